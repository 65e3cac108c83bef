//! recon reconciles Huawei Cloud partner incentive statements (激励明细) against customer
//! consumption (消费明细) and explains every difference. The library is organised by concern:
//! [`load`] reads exports and maps their headers, [`rules`] validates the policy, [`engine`]
//! decides rows and keys and builds the waterfall, [`report`] writes the outputs, [`stream`]
//! partitions inputs larger than memory, and [`app`] ties them into the commands the binary
//! exposes.

pub mod app;
pub mod cli;
pub mod commands;
pub mod config;
pub mod engine;
pub mod gen;
pub mod knobs;
pub mod load;
pub mod model;
pub mod obs;
pub mod outdir;
pub mod progress;
pub mod report;
pub mod rules;
pub mod sql;
pub mod stream;
