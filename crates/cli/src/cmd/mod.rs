//! One module per subcommand.
pub mod calibrate;
pub mod data;
pub mod detect;
pub mod eval;
pub mod faces;
pub mod filter;
pub mod kaggle;
pub mod train;
