//! Scorekeeper: issues tokenised CSAT, NPS, CES and ESAT survey links, records answers
//! safely from link scanners, and serves scores with their margin of error.

#![warn(missing_docs)]

pub mod campaigns;
pub mod cli;
pub mod config;
pub mod dashboards;
pub mod db;
pub mod delighted;
pub mod domain;
pub mod error;
pub mod extract;
pub mod healthcheck;
pub mod helpdesk;
pub mod import;
pub mod ingest;
pub mod invite;
pub mod keyfile;
pub mod limits;
pub mod links;
pub mod mail;
pub mod metrics;
pub mod pages;
pub mod reports;
pub mod respond;
pub mod routes;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod templates;
pub mod validation;
pub mod views;
pub mod webhooks;
pub mod widget;

pub use startup::Application;
