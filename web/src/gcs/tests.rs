//! Unit tests of the GCS client's request shaping (no server).

use super::*;

#[test]
fn names_and_ranges_are_encoded_for_the_json_api() {
    assert_eq!(encode("backups/app-1.dump"), "backups%2Fapp-1.dump");
    assert_eq!(encode("a b+c?d#é"), "a%20b%2Bc%3Fd%23%C3%A9");
    assert_eq!(range_header(&GetRange::Bounded(2..6)), "bytes=2-5");
    assert_eq!(range_header(&GetRange::Offset(7)), "bytes=7-");
    assert_eq!(range_header(&GetRange::Suffix(3)), "bytes=-3");
}

#[test]
fn object_metadata_reads_the_json_api_shape() {
    let object: Object = serde_json::from_str(
        r#"{"name":"backups/a.dump","size":"11","updated":"2026-11-24T13:12:14.198342Z",
            "etag":"XrY7u+Ae7tCTyyK7j1rNww==","generation":"1795525934198338455","bucket":"bk"}"#,
    )
    .unwrap();
    let meta = object.meta();
    assert_eq!(meta.location.as_ref(), "backups/a.dump");
    assert_eq!(meta.size, 11);
    assert_eq!(meta.version.as_deref(), Some("1795525934198338455"));
    assert!(serde_json::from_str::<Object>(r#"{"name":"x","size":"-1","updated":"2026-11-24T13:12:14Z"}"#).is_err());
}

#[test]
fn only_transient_statuses_are_retried() {
    for status in [429, 500, 502, 503, 504] {
        assert!(retryable(StatusCode::from_u16(status).unwrap()), "{status}");
    }
    for status in [200, 308, 400, 401, 403, 404, 412] {
        assert!(!retryable(StatusCode::from_u16(status).unwrap()), "{status}");
    }
}
