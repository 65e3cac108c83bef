//! Policy tools (contract §7): drafting a rules file from the exports ([`init`]).

pub mod init;
