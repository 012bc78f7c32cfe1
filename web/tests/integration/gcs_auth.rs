//! Google Cloud Storage with a service-account key: every request carries a bearer token that is a JWT signed
//! (RS256) with the key's private key, naming the account and the cloud-platform scope (a self-signed JWT, which Google's APIs take without an OAuth exchange). The GCS emulator takes no tokens,
//! so this part is tested on its own: a one-off HTTP listener stands where storage.googleapis.com would be and
//! records what it is sent, and openssl checks the signature against the key's public half.

use base64::Engine as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::common::{TestDb, output_text, run_app};

fn openssl(args: &[&str]) -> std::process::Output {
    let output = std::process::Command::new("openssl").args(args).output().expect("openssl is installed");
    assert!(output.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    output
}

/// Accepts one connection, reads the request head, answers an empty listing, and returns the head.
async fn one_request(listener: tokio::net::TcpListener) -> String {
    let (mut socket, _) = listener.accept().await.unwrap();
    let mut head = Vec::new();
    let mut buffer = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = socket.read(&mut buffer).await.unwrap();
        assert!(read > 0, "the client closed before sending a request");
        head.extend_from_slice(&buffer[..read]);
    }
    let body = r#"{"kind":"storage#objects","items":[]}"#;
    let answer = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    socket.write_all(answer.as_bytes()).await.unwrap();
    String::from_utf8(head).unwrap()
}

#[tokio::test]
async fn a_service_account_key_signs_every_request() {
    let db = TestDb::migrated().await;
    let dir = std::env::temp_dir().join(format!("gcs-auth-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = |name: &str| dir.join(name).to_str().unwrap().to_string();
    openssl(&["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", &path("key.pem")]);
    openssl(&["pkey", "-in", &path("key.pem"), "-pubout", "-out", &path("public.pem")]);
    let key = serde_json::json!({
        "type": "service_account",
        "project_id": "test",
        "private_key_id": "key-1",
        "private_key": std::fs::read_to_string(path("key.pem")).unwrap(),
        "client_email": "backups@test.iam.gserviceaccount.com",
    });
    std::fs::write(path("key.json"), key.to_string()).unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(one_request(listener));
    let key_path = path("key.json");
    let env: Vec<(String, String)> = [
        ("DATABASE_URL", db.url.as_str()),
        ("BACKUP_STORAGE", "gcs"),
        ("BACKUP_BUCKET", "signed-bucket"),
        ("GCS_BASE_URL", base.as_str()),
        ("GOOGLE_SERVICE_ACCOUNT_PATH", key_path.as_str()),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .into();
    let output = tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        run_app(&["backup", "list"], &env)
    })
    .await
    .unwrap();
    assert!(output.status.success(), "{}", output_text(&output));
    assert!(output_text(&output).contains("No backups in gs://signed-bucket/backups"), "{}", output_text(&output));

    let head = server.await.unwrap();
    let request_line = head.lines().next().unwrap();
    assert!(
        request_line.starts_with("GET /storage/v1/b/signed-bucket/o?prefix=backups%2F "),
        "the JSON API's listing: {request_line}"
    );
    let token = head
        .lines()
        .find_map(|line| {
            line.strip_prefix("authorization: Bearer ").or_else(|| line.strip_prefix("Authorization: Bearer "))
        })
        .unwrap_or_else(|| panic!("no bearer token in {head}"));
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT: {token}");
    let decode = |part: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap();
    let header: serde_json::Value = serde_json::from_slice(&decode(parts[0])).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&decode(parts[1])).unwrap();
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], "key-1");
    assert_eq!(claims["iss"], "backups@test.iam.gserviceaccount.com");
    assert_eq!(claims["sub"], claims["iss"]);
    assert_eq!(claims["scope"], "https://www.googleapis.com/auth/cloud-platform", "{claims}");
    assert_eq!(claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(), 3600);

    std::fs::write(path("signed.txt"), format!("{}.{}", parts[0], parts[1])).unwrap();
    std::fs::write(path("signature.bin"), decode(parts[2])).unwrap();
    let verified = openssl(&[
        "dgst",
        "-sha256",
        "-verify",
        &path("public.pem"),
        "-signature",
        &path("signature.bin"),
        &path("signed.txt"),
    ]);
    assert!(String::from_utf8_lossy(&verified.stdout).contains("Verified OK"));
    std::fs::remove_dir_all(dir).ok();
}
