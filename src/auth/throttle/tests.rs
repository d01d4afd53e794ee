use super::*;
use sea_orm::DatabaseConnection;

/// A file, not `:memory:`: every pooled connection must see the same database.
async fn db() -> (DatabaseConnection, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let db = crate::db::connect(&url, None).await.unwrap();
    crate::db::migrate(&db).await.unwrap();
    (db, dir)
}

fn throttle(pair: u32, user: u32, addr: u32) -> LoginThrottle {
    LoginThrottle::new(Limits {
        per_user_address: pair,
        per_user: user,
        per_address: addr,
        window: Duration::from_secs(60),
    })
}

fn refused(r: AppResult<Reservation>) -> bool {
    matches!(r, Err(AppError::RateLimited { retry_after }) if (1..=60).contains(&retry_after))
}

#[tokio::test]
async fn the_pair_budget_is_spent_then_refused() {
    let ((db, _dir), t) = (db().await, throttle(3, 100, 100));
    for _ in 0..3 {
        let r = t.reserve(&db, "Ann", "1.1.1.1").await.unwrap();
        t.failed(&db, r).await.unwrap();
    }
    assert!(refused(t.reserve(&db, "ann", "1.1.1.1").await));
    // The same account from elsewhere, and others from here, still get in.
    let r = t.reserve(&db, "ann", "2.2.2.2").await.unwrap();
    t.failed(&db, r).await.unwrap();
    let r = t.reserve(&db, "bob", "1.1.1.1").await.unwrap();
    t.failed(&db, r).await.unwrap();
}

#[tokio::test]
async fn refused_attempts_do_not_drain_the_account_budget() {
    let ((db, _dir), t) = (db().await, throttle(2, 5, 1000));
    for _ in 0..2 {
        let r = t.reserve(&db, "ann", "6.6.6.6").await.unwrap();
        t.failed(&db, r).await.unwrap();
    }
    for _ in 0..50 {
        assert!(refused(t.reserve(&db, "ann", "6.6.6.6").await));
    }
    // The stranger spent 2 of the account's 5; its owner elsewhere is not locked out.
    let r = t.reserve(&db, "ann", "7.7.7.7").await.unwrap();
    t.succeeded(&db, r).await.unwrap();
    // Many addresses together reach the account's global limit.
    for i in 0..3 {
        let r = t.reserve(&db, "ann", &format!("8.8.8.{i}")).await.unwrap();
        t.failed(&db, r).await.unwrap();
    }
    assert!(refused(t.reserve(&db, "ann", "9.9.9.9").await));
}

#[tokio::test]
async fn an_address_trying_many_accounts_is_refused() {
    let ((db, _dir), t) = (db().await, throttle(5, 100, 4));
    for i in 0..4 {
        let r = t
            .reserve(&db, &format!("user{i}"), "3.3.3.3")
            .await
            .unwrap();
        t.failed(&db, r).await.unwrap();
    }
    assert!(refused(t.reserve(&db, "someone-new", "3.3.3.3").await));
    let r = t.reserve(&db, "someone-new", "4.4.4.4").await.unwrap();
    t.failed(&db, r).await.unwrap();
}

#[tokio::test]
async fn success_and_refund_give_the_budget_back() {
    let ((db, _dir), t) = (db().await, throttle(2, 100, 100));
    let failed = t.reserve(&db, "ann", "x").await.unwrap();
    t.failed(&db, failed).await.unwrap();
    let ok = t.reserve(&db, "ann", "x").await.unwrap();
    t.succeeded(&db, ok).await.unwrap();
    let r = t.reserve(&db, "ann", "x").await.unwrap();
    t.refund(&db, r).await.unwrap();
    for _ in 0..2 {
        let r = t.reserve(&db, "ann", "x").await.unwrap();
        t.failed(&db, r).await.unwrap();
    }
    assert!(refused(t.reserve(&db, "ann", "x").await));
}

#[tokio::test]
async fn the_window_expires() {
    let (db, _dir) = db().await;
    let t = throttle(1, 100, 100);
    let r = t.reserve(&db, "ann", "x").await.unwrap();
    t.failed(&db, r).await.unwrap();
    assert!(refused(t.reserve(&db, "ann", "x").await));
    // Age the window instead of sleeping through it.
    login_attempts::Entity::update_many()
        .col_expr(Column::WindowStart, Expr::col(Column::WindowStart).sub(61))
        .exec(&db)
        .await
        .unwrap();
    let r = t.reserve(&db, "ann", "x").await.unwrap();
    t.failed(&db, r).await.unwrap();
}

/// Issue 19: twelve simultaneous correct logins of one user got 7 × 429 with no
/// failure recorded. Attempts in flight make a thirteenth wait, not fail; settled
/// failures still refuse at once.
#[tokio::test]
async fn attempts_in_flight_make_others_wait_and_only_failures_refuse() {
    let ((db, _dir), t) = (db().await, throttle(2, 100, 100));
    let (a, b) = (
        t.reserve(&db, "ann", "x").await.unwrap(),
        t.reserve(&db, "ann", "x").await.unwrap(),
    );
    // Both in flight: a third waits until one settles as a success.
    let third = t.reserve(&db, "ann", "x");
    let settle = async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        t.succeeded(&db, a).await.unwrap();
    };
    let (third, ()) = tokio::join!(third, settle);
    t.succeeded(&db, third.expect("waited, then reserved"))
        .await
        .unwrap();
    // `b` fails, then another failure: the settled failures reach the limit.
    t.failed(&db, b).await.unwrap();
    let c = t.reserve(&db, "ann", "x").await.unwrap();
    t.failed(&db, c).await.unwrap();
    let started = Instant::now();
    assert!(refused(t.reserve(&db, "ann", "x").await));
    assert!(
        started.elapsed() < IN_FLIGHT_WAIT,
        "refused at once, not after waiting"
    );
}
