//! Policy tools (contract §7): drafting a rules file from the exports ([`init`]) and reading a
//! run's expected incentive back per period and product ([`expected`], for `estimate` and
//! `whatif`, which run the engine through the run's own executors).

pub mod expected;
pub mod init;
