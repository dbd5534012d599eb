//! Keeps `api/` files, Cargo's `[[bin]]` entries, the route table and
//! vercel.json in step, so an endpoint cannot be half-registered.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use kasirgo::routes::{
    FUNCTIONS, pattern_matches, to_vercel_syntax, vercel_crons, vercel_rewrites,
};

fn api_files(dir: &Path, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if path.is_dir() {
            api_files(&path, out);
        } else if name.ends_with(".rs") && !name.starts_with('_') {
            let rel = path.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap();
            out.insert(rel.to_str().unwrap().to_string());
        }
    }
}

fn cargo_bins() -> BTreeMap<String, String> {
    let manifest: toml::Table =
        toml::from_str(&std::fs::read_to_string(root().join("Cargo.toml")).unwrap()).unwrap();
    let mut bins = BTreeMap::new();
    for bin in manifest["bin"].as_array().unwrap() {
        let name = bin["name"].as_str().unwrap().to_string();
        let path = bin["path"].as_str().unwrap().to_string();
        // A bin is a thin adapter with no tests of its own; a test harness
        // per bin is 27 more links and GBs of target/ (see Cargo.toml).
        assert_eq!(
            bin.get("test").and_then(toml::Value::as_bool),
            Some(false),
            "[[bin]] {name} needs `test = false`"
        );
        assert!(
            bins.insert(path.clone(), name).is_none(),
            "two [[bin]] entries for {path}"
        );
    }
    bins
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_api_file_has_its_bin_and_route_entry() {
    let mut files = BTreeSet::new();
    api_files(&root().join("api"), &mut files);
    let bins = cargo_bins();
    let table: BTreeMap<&str, &str> = FUNCTIONS.iter().map(|f| (f.file, f.bin)).collect();
    assert_eq!(table.len(), FUNCTIONS.len(), "a file is listed twice");

    for file in &files {
        // Vercel serves `api/x/index.rs` only at `/api/x/index`, never at
        // `/api/x`: the collection lives in `api/x.rs` beside `api/x/`.
        assert!(
            !file.ends_with("/index.rs"),
            "{file}: Vercel does not route /api/<dir> to <dir>/index.rs; name it api/<dir>.rs"
        );
        let bin = bins
            .get(file)
            .unwrap_or_else(|| panic!("{file} has no [[bin]] with path = \"{file}\""));
        assert_eq!(
            table.get(file.as_str()),
            Some(&bin.as_str()),
            "{file}: the route table must list it with bin = {bin:?}"
        );
        let source = std::fs::read_to_string(root().join(file)).unwrap();
        let f = FUNCTIONS.iter().find(|f| f.file == file).unwrap();
        assert!(
            source.contains("kasirgo::serverless::run(&kasirgo::routes::"),
            "{file} must hand its route-table entry to the runtime"
        );
        assert!(
            source.lines().count() <= 10,
            "{file}: shared code lives in lib/, not api/ ({})",
            f.bin
        );
    }
    for (path, name) in &bins {
        if path.starts_with("api/") {
            assert!(
                files.contains(path),
                "[[bin]] {name} points at missing {path}"
            );
        }
    }
    for f in FUNCTIONS {
        assert!(
            files.contains(f.file),
            "route table lists missing {}",
            f.file
        );
    }
    let names: BTreeSet<&str> = bins.values().map(String::as_str).collect();
    assert_eq!(names.len(), bins.len(), "[[bin]] names must be unique");
}

#[test]
fn each_path_belongs_to_one_function_that_vercel_routes_to_it() {
    let mut owner: BTreeMap<String, &str> = BTreeMap::new();
    for f in FUNCTIONS {
        let own = f.vercel_path();
        let paths = f.documented_paths();
        assert!(!paths.is_empty(), "{} documents no route", f.bin);
        for path in paths {
            if let Some(other) = owner.insert(path.clone(), f.bin) {
                panic!("{path} is served by both {other} and {}", f.bin);
            }
            // Either Vercel's file routing reaches this function, or a
            // rewrite must (checked against vercel.json below).
            let _ = pattern_matches(&own, &path);
        }
        for (from, to) in f.aliases {
            assert!(
                f.documented_paths().contains(&to_vercel_syntax(to)),
                "{}: alias {from} -> {to} targets a path it does not serve",
                f.bin
            );
        }
    }
    // No function's own file route captures another function's path.
    for f in FUNCTIONS {
        for (path, bin) in &owner {
            if *bin != f.bin && pattern_matches(&f.vercel_path(), path) {
                let theirs = FUNCTIONS.iter().find(|g| g.bin == *bin).unwrap();
                assert!(
                    !pattern_matches(&theirs.vercel_path(), path) || !f.vercel_path().contains(':'),
                    "{path} matches both {} and {}",
                    f.file,
                    theirs.file
                );
            }
        }
    }
}

#[test]
fn vercel_json_rewrites_match_the_route_table() {
    let path = root().join("vercel.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let expected = vercel_rewrites();
    if std::env::var_os("KASIRGO_WRITE_VERCEL_JSON").is_some() {
        config["rewrites"] = expected.clone();
        config["crons"] = vercel_crons();
        std::fs::write(&path, serde_json::to_string_pretty(&config).unwrap() + "\n").unwrap();
    }
    assert_eq!(
        config["rewrites"], expected,
        "vercel.json is stale: run `KASIRGO_WRITE_VERCEL_JSON=1 cargo test --test route_table`"
    );
    // Every path and its trailing-slash form reaches a function.
    let rewrites = expected.as_array().unwrap();
    let sources: BTreeSet<&str> = rewrites
        .iter()
        .map(|r| r["source"].as_str().unwrap())
        .collect();
    for f in FUNCTIONS {
        for path in f.documented_paths() {
            assert!(
                sources.contains(format!("{path}/").as_str()),
                "{path}/ has no rewrite"
            );
            if !pattern_matches(&f.vercel_path(), &path) {
                assert!(sources.contains(path.as_str()), "{path} has no rewrite");
            }
        }
    }
    assert_eq!(
        config["crons"],
        vercel_crons(),
        "vercel.json's crons are stale"
    );
    // Every cron path is served by a function.
    for cron in vercel_crons().as_array().unwrap() {
        let path = cron["path"].as_str().unwrap();
        assert!(
            FUNCTIONS.iter().any(|f| f
                .documented_paths()
                .iter()
                .any(|p| pattern_matches(p, path))),
            "cron {path} reaches no route"
        );
    }
    assert_eq!(config["outputDirectory"], "public");
    let public = root().join("public");
    for entry in std::fs::read_dir(&public).unwrap() {
        let name = entry.unwrap().file_name();
        let name = name.to_str().unwrap();
        assert!(
            !name.ends_with(".toml") && !name.ends_with(".lock") && !name.ends_with(".sh"),
            "public/ must hold only public files, found {name}"
        );
    }
}

#[test]
fn cargo_config_keeps_the_build_table_vercel_rust_needs() {
    // @vercel/rust 20.0.0 reads `.cargo/config.toml`'s `build.target`
    // without checking that `[build]` exists: without the table every
    // function's build fails on Vercel (found by the deploy rehearsal).
    let path = root().join(".cargo/config.toml");
    let config: toml::Table = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(
        config.get("build").is_some_and(toml::Value::is_table),
        ".cargo/config.toml must keep a [build] table (an empty one is enough) for @vercel/rust"
    );
}
