//! The catalog: categories and products.

pub mod categories;
pub mod products;
