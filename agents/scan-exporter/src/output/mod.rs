//! Renderings of a [`crate::summary::Summary`]: the terminal table and JUnit XML;
//! and of every finding with its decision: SARIF.

pub mod junit;
pub mod sarif;
pub mod table;
