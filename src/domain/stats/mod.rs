//! Statistics on scores: confidence intervals and significance of change. Pure maths,
//! unit- and property-tested; the scores themselves are in `domain::scoring`.

pub mod buckets;
pub mod disclosure;
pub mod distribution;
pub mod intervals;
pub mod significance;
pub mod tally;
