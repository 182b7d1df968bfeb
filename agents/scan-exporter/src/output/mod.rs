//! Renderings of a [`crate::summary::Summary`]: the terminal table and JUnit XML.

pub mod junit;
pub mod table;
