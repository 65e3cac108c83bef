pub mod normalize;
pub mod sql;
