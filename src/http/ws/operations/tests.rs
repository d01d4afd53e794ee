use super::*;

#[test]
fn the_bucket_allows_a_burst_then_the_rate() {
    let start = std::time::Instant::now();
    let mut b = Bucket {
        tokens: OPERATION_BURST,
        at: start,
    };
    let burst = (0..1000).take_while(|_| b.take(start)).count();
    assert_eq!(burst as f64, OPERATION_BURST);
    assert!(!b.take(start));
    // A second later: the rate's worth, not more.
    let later = start + std::time::Duration::from_secs(1);
    let more = (0..1000).take_while(|_| b.take(later)).count();
    assert_eq!(more as f64, OPERATIONS_PER_SECOND);
    // A long pause refills the burst, not beyond.
    let much_later = later + std::time::Duration::from_secs(3600);
    let refilled = (0..1000).take_while(|_| b.take(much_later)).count();
    assert_eq!(refilled as f64, OPERATION_BURST);
}

#[test]
fn the_cap_counts_running_operations_and_each_end_frees_one_place() {
    let mut ops = Operations::default();
    for i in 0..MAX_OPERATIONS {
        assert_eq!(ops.subscribe(&i.to_string()), Admission::Run);
    }
    assert_eq!(ops.subscribe("extra"), Admission::Full);
    assert_eq!(ops.subscribe("0"), Admission::Duplicate);
    // The library's `complete` (or our `error`) frees a place...
    ops.finished("0");
    assert_eq!(ops.subscribe("extra"), Admission::Run);
    assert_eq!(ops.subscribe("0"), Admission::Full);
    // ...and so does the client's `complete`, once.
    ops.stop("1");
    ops.stop("1");
    assert_eq!(ops.subscribe("1"), Admission::Run);
    assert_eq!(ops.subscribe("again"), Admission::Full);
    // The library's answer to that `complete` belongs to the old "1": the new one
    // keeps its place until its own end.
    ops.finished("1");
    assert_eq!(ops.subscribe("again"), Admission::Full);
    ops.finished("1");
    assert_eq!(ops.subscribe("again"), Admission::Run);
    // Stopped, reused and stopped again before either answer: both answers are
    // for the stopped ones, and the third "2" keeps its place.
    ops.stop("2");
    assert_eq!(ops.subscribe("2"), Admission::Run);
    ops.stop("2");
    assert_eq!(ops.subscribe("2"), Admission::Run);
    ops.finished("2");
    ops.finished("2");
    assert_eq!(ops.subscribe("again2"), Admission::Full);
    ops.finished("2");
    assert_eq!(ops.subscribe("again2"), Admission::Run);
    // Ends of unknown ids, or of ids already ended, free nothing.
    ops.finished("nobody");
    ops.stop("nobody");
    ops.finished("1");
    assert_eq!(ops.running.len(), MAX_OPERATIONS);
    assert!(ops.stopped.is_empty());
}

fn text(m: Option<Message>) -> Option<serde_json::Value> {
    match m? {
        Message::Text(t) => Some(serde_json::from_str(t.as_str()).unwrap()),
        other => panic!("{other:?}"),
    }
}

fn close_code(m: Option<Message>) -> u16 {
    match m {
        Some(Message::Close(Some(f))) => f.code,
        other => panic!("{other:?}"),
    }
}

/// A socket past `connection_init`.
fn initialised(protocol: Protocol) -> Reader {
    Reader {
        protocol,
        initialised: true,
        bucket: Bucket::new(),
        lang: Lang::En,
    }
}

/// The answer to `bytes`, if any (the message then never reaches the library).
fn read(reader: &mut Reader, bytes: &[u8], ops: &Mutex<Operations>) -> Option<Message> {
    reader.admit(bytes, ops).map(|(m, pass)| {
        assert!(!pass);
        m
    })
}

#[test]
fn a_subscribe_beyond_the_cap_is_answered_with_a_coded_error_for_its_id() {
    let ops = Mutex::new(Operations::default());
    let mut r = initialised(Protocol::TransportWs);
    let sub = |id: &str, kind: &str| {
        serde_json::json!({ "id": id, "type": kind, "payload": { "query": "{ me { id } }" } })
            .to_string()
    };
    for i in 0..MAX_OPERATIONS {
        // Both protocols' names for it count alike.
        let kind = if i % 2 == 0 { "subscribe" } else { "start" };
        assert!(read(&mut r, sub(&i.to_string(), kind).as_bytes(), &ops).is_none());
    }
    let refused = text(read(&mut r, sub("x", "start").as_bytes(), &ops)).unwrap();
    assert_eq!(refused["id"], "x");
    assert_eq!(refused["type"], "error");
    assert_eq!(refused["payload"][0]["extensions"]["code"], "RATE_LIMITED");
    // Other messages pass.
    for other in [r#"{"type":"ping"}"#, r#"{"type":"connection_init"}"#] {
        assert!(read(&mut r, other.as_bytes(), &ops).is_none(), "{other}");
    }
    // The client's `complete` (legacy `stop`) frees a place at once.
    assert!(read(&mut r, br#"{"id":"3","type":"stop"}"#, &ops).is_none());
    assert!(read(&mut r, sub("x", "subscribe").as_bytes(), &ops).is_none());
    assert_eq!(
        close_code(read(&mut r, sub("x", "subscribe").as_bytes(), &ops)),
        DUPLICATE
    );
}

#[test]
fn an_operation_id_longer_than_max_id_closes_the_socket_before_anything_is_kept() {
    let ops = Mutex::new(Operations::default());
    let mut r = initialised(Protocol::TransportWs);
    let sub = |id: &str| {
        serde_json::json!({ "id": id, "type": "subscribe", "payload": { "query": "{ me { id } }" } })
            .to_string()
    };
    assert_eq!(
        close_code(read(
            &mut r,
            sub(&"i".repeat(256 * 1024 - 100)).as_bytes(),
            &ops
        )),
        INVALID
    );
    assert!(read(&mut r, sub(&"i".repeat(MAX_ID)).as_bytes(), &ops).is_none());
    // Nothing of the refused one counts: all the other places are still free.
    for i in 1..MAX_OPERATIONS {
        assert!(read(&mut r, sub(&i.to_string()).as_bytes(), &ops).is_none());
    }
}

#[test]
fn messages_the_library_cannot_read_are_answered_as_each_protocol_says() {
    let ops = Mutex::new(Operations::default());
    for bad in [
        "not json",
        r#"{"type":"unknown"}"#,
        r#"{"id":"y","type":"subscribe"}"#,
    ] {
        let mut r = initialised(Protocol::TransportWs);
        assert_eq!(
            close_code(read(&mut r, bad.as_bytes(), &ops)),
            4400,
            "{bad}"
        );
        // The legacy server answers `connection_error` and reads on.
        let mut r = initialised(Protocol::Legacy);
        let v = text(read(&mut r, bad.as_bytes(), &ops)).unwrap();
        assert_eq!(v["type"], "connection_error", "{bad}");
    }
    assert!(ops.lock().unwrap().running.is_empty());
}

#[test]
fn an_operation_before_connection_init_is_unauthorized_and_runs_nothing() {
    let ops = Mutex::new(Operations::default());
    let sub = br#"{"id":"1","type":"subscribe","payload":{"query":"{ me { id } }"}}"#;
    let mut r = Reader {
        protocol: Protocol::TransportWs,
        initialised: false,
        bucket: Bucket::new(),
        lang: Lang::En,
    };
    assert_eq!(close_code(read(&mut r, sub, &ops)), 4401);
    let mut r = Reader {
        protocol: Protocol::Legacy,
        initialised: false,
        bucket: Bucket::new(),
        lang: Lang::En,
    };
    let v = text(read(&mut r, sub, &ops)).unwrap();
    assert_eq!((&v["type"], &v["id"]), (&"error".into(), &"1".into()));
    assert_eq!(v["payload"][0]["extensions"]["code"], "UNAUTHENTICATED");
    assert!(ops.lock().unwrap().running.is_empty());
    // After `connection_init` (answered by the library), operations run.
    assert!(read(&mut r, br#"{"type":"connection_init"}"#, &ops).is_none());
    assert!(read(&mut r, sub, &ops).is_none());
    assert_eq!(ops.lock().unwrap().running.len(), 1);
}
