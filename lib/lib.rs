//! KasirGo: a point-of-sale backend served as Vercel functions over Postgres.
//!
//! Every `api/` file is a thin `main` that hands one route-table entry to
//! [`serverless::run`]; the dev server (`kasirgo serve`) merges them all.

pub mod auth;
pub mod catalog;
pub mod cloudinary;
pub mod config;
pub mod customers;
pub mod db;
pub mod demo;
pub mod dev;
pub mod docs;
pub mod error;
pub mod health;
pub mod http;
pub mod import_django;
pub mod money;
pub mod patch;
pub mod payments;
pub mod receipts;
pub mod reports;
pub mod routes;
pub mod sales;
pub mod serverless;
pub mod settings;
pub mod shifts;
pub mod state;
pub mod stock;
pub mod sync;
pub mod uploads;
pub mod users;
pub mod v0;
pub mod validate;
