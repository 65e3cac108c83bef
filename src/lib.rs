//! recon reconciles Huawei Cloud partner incentive statements (激励明细) against customer
//! consumption (消费明细) and explains every difference. The library is organised by concern:
//! [`load`] reads exports and maps their headers, [`rules`] validates the policy, [`engine`]
//! decides rows and keys and builds the waterfall, [`report`] writes the outputs, [`config`]
//! resolves a run's options once, [`exec`] runs the engine in memory or on partitions of inputs
//! larger than memory, and [`commands`] are what the binary exposes ([`cli`] parses them).

pub mod cli;
pub(crate) mod commands;
pub mod config;
pub(crate) mod engine;
pub mod exec;
pub mod gen;
pub(crate) mod knobs;
pub mod load;
pub(crate) mod model;
pub mod obs;
pub(crate) mod outdir;
pub(crate) mod policy;
pub(crate) mod progress;
pub mod report;
pub mod rules;
pub mod sql;
