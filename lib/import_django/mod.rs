//! `kasirgo import-django`: copies a KasirGo Django database (the backend
//! the app was written against, SiEncan/KasirGo-Backend) into ours, so a
//! shop moves over in one command and keeps the same app.
//!
//! The Django database is read in one REPEATABLE READ, READ ONLY
//! transaction (a consistent snapshot while Django keeps serving); ours is
//! written in one transaction, checked (both sides' counts and totals must
//! add up, see [`Report`]) and committed, or rolled back for `--dry-run`.
//! Rows Django allowed and we do not go through the rules of [`rules`],
//! and every one of them is listed in the report. `django_imports`
//! (migration 13) remembers what was imported, so a second run imports
//! nothing twice.

mod report;
pub mod rules;
mod source;
mod write;

use sqlx::{Connection, Executor, PgConnection, PgPool};

pub use report::{Issue, Measure, Notice, Report};
pub use source::{Cafe, Era};

/// What to import, and how.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The Django database's URL (`postgres://...`).
    pub from: String,
    /// The cafe to import (the cafes era); required when there are several.
    pub cafe: Option<i64>,
    /// Do everything, report it, then roll back.
    pub dry_run: bool,
    /// The Cloudinary cloud whose public ids Django stored, to rebuild
    /// image URLs; without it images are not kept (and the report says so).
    pub cloudinary_cloud: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read the Django database: {0}")]
    Source(sqlx::Error),
    #[error("cannot write our database: {0}")]
    Target(#[from] sqlx::Error),
    /// The input cannot be imported as asked (not a Django database, a
    /// cafe to choose...): nothing was written.
    #[error("{0}")]
    Refused(String),
    /// Both sides' counts or totals differ: a bug, so nothing was written.
    #[error("the import does not add up, so nothing was written:\n{0}")]
    Unbalanced(Box<Report>),
}

/// Imports `options.from` into `target`, in one transaction.
pub async fn run(target: &PgPool, options: &Options) -> Result<Report, ImportError> {
    if options.cloudinary_cloud.as_deref().is_some_and(|c| {
        c.is_empty()
            || !c
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
    }) {
        return Err(ImportError::Refused(
            "--cloudinary-cloud must be a Cloudinary cloud name (letters, digits, - and _)".into(),
        ));
    }
    let connect = crate::db::connect_options(&options.from)
        .map_err(|e| ImportError::Refused(format!("--from is not a Postgres URL: {e}")))?;
    let mut source = PgConnection::connect_with(&connect)
        .await
        .map_err(ImportError::Source)?;
    source
        .execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
        .map_err(ImportError::Source)?;
    let schema = source::detect(&mut source).await?;
    let cafes = match schema.era {
        Era::Cafes => source::cafes(&mut source).await?,
        Era::Seed => Vec::new(),
    };
    let scope = choose_scope(schema.era, &cafes, options.cafe)?;
    let data = source::load(&mut source, &schema, &scope).await?;
    source
        .execute("COMMIT")
        .await
        .map_err(ImportError::Source)?;
    let _ = source.close().await;

    let mut tx = target.begin().await?;
    let report = write::import(&mut tx, &schema, &scope, &cafes, &data, options).await?;
    if !report.balanced() {
        tx.rollback().await?;
        return Err(ImportError::Unbalanced(Box::new(report)));
    }
    if options.dry_run {
        tx.rollback().await?;
    } else {
        tx.commit().await?;
    }
    Ok(report)
}

/// The cafes era: `--cafe`, else the only cafe; several need `--cafe`.
fn choose_scope(
    era: Era,
    cafes: &[Cafe],
    wanted: Option<i64>,
) -> Result<source::Scope, ImportError> {
    let list = || {
        cafes
            .iter()
            .map(|c| format!("  --cafe {c}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    match (era, wanted) {
        (Era::Seed, None) => Ok(source::Scope::All),
        (Era::Seed, Some(_)) => Err(ImportError::Refused(
            "this Django database has no cafes (it predates them): leave out --cafe".into(),
        )),
        (Era::Cafes, Some(id)) => cafes
            .iter()
            .find(|c| c.id == id)
            .map(|c| source::Scope::Cafe {
                id: c.id,
                name: c.name.clone(),
            })
            .ok_or_else(|| {
                ImportError::Refused(if cafes.is_empty() {
                    format!("there is no cafe {id}: this Django database has no cafes")
                } else {
                    format!(
                        "there is no cafe {id}; the Django database has:\n{}",
                        list()
                    )
                })
            }),
        (Era::Cafes, None) => match cafes {
            [] => Ok(source::Scope::All),
            [only] => Ok(source::Scope::Cafe {
                id: only.id,
                name: only.name.clone(),
            }),
            _ => Err(ImportError::Refused(format!(
                "the Django database has {} cafes; choose the one to import with --cafe <id> \
                 (run again for another):\n{}",
                cafes.len(),
                list()
            ))),
        },
    }
}
