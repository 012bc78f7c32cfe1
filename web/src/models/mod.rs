//! Rows and the queries on them. Functions here return diesel's `QueryResult`; turning a database error into an
//! HTTP answer is the handlers' job (see `crate::error`).

pub mod email_token;
pub mod keyset;
pub mod login_attempt;
pub mod note;
pub mod session;
pub mod user;
