//! Outbound webhooks: events are queued by `db::webhooks::emit` in the transaction that made
//! them; this worker delivers them, signed, to the resolved address only if the target policy
//! allows it, without following redirects, and retries with backoff for up to a day.

mod deliver;
mod worker;

pub use deliver::deliver;
pub use worker::Worker;
