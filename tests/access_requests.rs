//! Asking for access, on both engines, as the requester, the approver and the helpdesk see
//! it: the approvers are emailed; an answer needs a reason to reject, is given once, and is
//! emailed back; approving gives the membership and the service with the chosen roles;
//! requests to an organisation with no approver, or left for 5 days, go to the helpdesk
//! queue, which only staff can see.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use chrono::Duration;
use common::cli::run;
use common::oidc::PASSWORD;
use common::{Browser, Engine, TestApp, csrf_in, location};
use gatehouse::audit::{Actor, RequestContext};
use gatehouse::directory::Level;

both_engines!(requests_are_answered_by_approvers_or_the_helpdesk);

const ANA: &str = "ana.lopez@oakhurst.example";
const BEN: &str = "ben.osei@oakhurst.example";
const HANA: &str = "hana.ito@helpdesk.example";

async fn ask(me: &Browser, fields: &[(&str, &str)]) -> reqwest::Response {
    let html = me
        .get("/account/request-access")
        .await
        .text()
        .await
        .unwrap();
    let mut form = vec![("csrf_token", csrf_in(&html))];
    form.extend(fields.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    me.post("/account/request-access", &form).await
}

/// The id of the first request listed on an approver's organisation page.
fn first_request(html: &str) -> String {
    let at = html.find("/requests/").expect("a request is listed");
    html[at + "/requests/".len()..]
        .chars()
        .take_while(|c| c.is_ascii_hexdigit())
        .collect()
}

async fn requests_are_answered_by_approvers_or_the_helpdesk(engine: Engine) {
    let (app, sink) = TestApp::spawn_with_sink(engine).await;
    let directory = app.directory_with_schools().await;
    let roles = [("submitter", "Submits returns")];
    app.organisation_service(
        &directory,
        "census",
        "openid profile email organisation",
        &roles,
    )
    .await;
    let ctx = RequestContext::default();
    let oakhurst = directory.find("100019").await.unwrap().unwrap();
    let ana_id = app.create_user(ANA, PASSWORD).await;
    let (approver, ana_device) = app.verified_browser_and_app(ANA, PASSWORD).await;
    let ana = app.store.user_by_id(&ana_id).await.unwrap().unwrap();
    directory
        .add_member(&ana, &oakhurst.id, Level::Approver, Actor::Cli, &ctx)
        .await
        .unwrap();
    let ben_id = app.create_user(BEN, PASSWORD).await;
    let ben = app.browser();
    ben.sign_in(BEN, PASSWORD).await;

    // Ben asks to use the census for Oakhurst; the form checks what it can first.
    let blank = ask(&ben, &[("organisation", ""), ("client_id", "census")]).await;
    assert_eq!(blank.status(), 422);
    let text = blank.text().await.unwrap();
    assert!(text.contains("Enter the school") && text.contains("Enter why you need access"));
    let unknown = ask(&ben, &[("organisation", "999999"), ("reason", "x")]).await;
    assert!(
        unknown
            .text()
            .await
            .unwrap()
            .contains("No school or local authority")
    );
    let sent = ask(
        &ben,
        &[
            ("organisation", "100019"),
            ("client_id", "census"),
            ("reason", "I send the school census"),
        ],
    )
    .await;
    assert_eq!(sent.status(), 303);
    assert_eq!(location(&sent), "/account?notice=request-sent");
    let again = ask(
        &ben,
        &[
            ("organisation", "100019"),
            ("client_id", "census"),
            ("reason", "Please"),
        ],
    )
    .await;
    assert_eq!(again.status(), 422, "one open request at a time");
    let told = sink.wait_for(ANA, 2).await;
    let mail = told
        .iter()
        .find(|m| m.subject().contains("asked for access"))
        .expect("the approver is emailed");
    assert!(mail.text().contains("I send the school census"));
    let text = mail.text();

    // Ana sees it, must give a reason to reject, and approves with a role.
    let org = format!("/organisation/{}", oakhurst.id);
    let list = approver.get(&org).await.text().await.unwrap();
    assert!(list.contains("I send the school census"));
    let id = first_request(&list);
    let path = format!("{org}/requests/{id}");
    assert!(
        text.contains(&format!("{}{path}", app.base)),
        "the email links to the request: {text}"
    );
    let html = approver.get(&path).await.text().await.unwrap();
    let token = csrf_in(&html);
    let no_reason = approver
        .post(&path, &[("csrf_token", &token), ("decision", "reject")])
        .await;
    assert_eq!(no_reason.status(), 422);
    assert!(no_reason.text().await.unwrap().contains("Enter a reason"));
    let appointing = approver
        .post(
            &path,
            &[
                ("csrf_token", &token),
                ("decision", "approve"),
                ("approver", "yes"),
            ],
        )
        .await;
    assert_eq!(
        appointing.status(),
        422,
        "approvers appoint on the person's page"
    );
    assert!(
        !html.contains("name=\"approver\""),
        "not offered to approvers"
    );
    let approved = approver
        .post(
            &path,
            &[
                ("csrf_token", &token),
                ("decision", "approve"),
                ("role", "submitter"),
                ("reason", "Welcome"),
            ],
        )
        .await;
    assert_eq!(approved.status(), 303);
    let roles = app
        .store
        .access_roles(ben_id.as_str(), &oakhurst.id, "census")
        .await
        .unwrap();
    assert_eq!(roles, vec!["submitter".to_owned()]);
    let member = app
        .store
        .membership(ben_id.as_str(), &oakhurst.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(member.level, "member");
    let answer = sink.wait_for(BEN, 1).await;
    assert!(answer[0].subject().contains("was approved"));
    let twice = approver
        .post(
            &path,
            &[
                ("csrf_token", &token),
                ("decision", "reject"),
                ("reason", "Changed my mind"),
            ],
        )
        .await;
    assert_eq!(twice.status(), 422, "a request is answered once");
    assert!(
        twice
            .text()
            .await
            .unwrap()
            .contains("already been answered")
    );
    let audit = app.audit_of(&ben_id).await;
    let decided = audit
        .iter()
        .find(|r| r.action == "access_request.decided")
        .unwrap();
    assert_eq!(decided.actor, ana.id);
    assert!(decided.details.as_deref().unwrap().contains("Welcome"));
    let mine = ben
        .get("/account/request-access")
        .await
        .text()
        .await
        .unwrap();
    assert!(mine.contains("Approved") && mine.contains("Welcome"));

    // Longridge has no approver: Ben's request to join it goes straight to the helpdesk.
    let longridge = ask(&ben, &[("organisation", "100021"), ("reason", "New job")]).await;
    assert_eq!(longridge.status(), 303);
    // A request to Oakhurst (it has an approver) waits for Ana, then goes after 5 days.
    let cara_id = app.create_user("cara@oakhurst.example", PASSWORD).await;
    let cara = app.browser();
    cara.sign_in("cara@oakhurst.example", PASSWORD).await;
    assert_eq!(
        ask(
            &cara,
            &[("organisation", "100019"), ("reason", "Office manager")]
        )
        .await
        .status(),
        303
    );

    // Only staff see the queue; Hana is made helpdesk staff by an operator.
    assert_eq!(approver.get("/manage/requests").await.status(), 403);
    app.create_user(HANA, PASSWORD).await;
    let (hana, device) = app.verified_browser_and_app(HANA, PASSWORD).await;
    assert_eq!(hana.get("/manage/requests").await.status(), 403);
    let data = app.db.data_dir().display().to_string();
    let keys = app.db.keys_dir().display().to_string();
    let granted = run(
        app.db.dir.path(),
        &["staff", "grant", HANA, "helpdesk"],
        &[
            ("GATEHOUSE_DATABASE_URL", app.db.url.as_str()),
            ("GATEHOUSE_DATA_DIR", data.as_str()),
            ("GATEHOUSE_KEYS_DIR", keys.as_str()),
        ],
    );
    assert!(granted.status.success(), "{:?}", granted);
    let queue = hana.get("/manage/requests").await.text().await.unwrap();
    assert!(
        queue.contains("New job") && queue.contains("No approver"),
        "{queue}"
    );
    assert!(!queue.contains("Office manager"), "not yet overdue");
    app.clock.advance(Duration::days(5) + Duration::minutes(1));
    let hana = app.sign_in_verified(HANA, PASSWORD, &device).await;
    let queue = hana.get("/manage/requests").await.text().await.unwrap();
    assert!(queue.contains("Office manager") && queue.contains("Not answered in 5 days"));
    let escalated = app
        .audit_of(&cara_id)
        .await
        .into_iter()
        .filter(|r| r.action == "access_request.escalated")
        .count();
    assert_eq!(
        escalated, 1,
        "escalated once, however often the queue is read"
    );
    hana.get("/manage/requests").await;
    let again = app
        .audit_of(&cara_id)
        .await
        .into_iter()
        .filter(|r| r.action == "access_request.escalated")
        .count();
    assert_eq!(again, 1);

    // Hana answers Ben's request to join Longridge (it has no approver).
    let queue = hana.get("/manage/requests").await.text().await.unwrap();
    let at = queue.find("New job").unwrap();
    let link = &queue[at..][queue[at..].find("/manage/requests/").unwrap()..];
    let answer_path: String = link.chars().take_while(|c| *c != '"').collect();
    let html = hana.get(&answer_path).await.text().await.unwrap();
    assert!(html.contains("To join Longridge Primary School"), "{html}");
    assert!(
        html.contains("If you approve, also make"),
        "the helpdesk may appoint an approver"
    );
    let approved = hana
        .post(
            &answer_path,
            &[
                ("csrf_token", &csrf_in(&html)),
                ("decision", "approve"),
                ("approver", "yes"),
                ("reason", "Confirmed with the school office"),
            ],
        )
        .await;
    assert_eq!(approved.status(), 303);
    assert_eq!(location(&approved), "/manage/requests?notice=decided");
    let longridge_org = directory.find("100021").await.unwrap().unwrap();
    let joined = app
        .store
        .membership(ben_id.as_str(), &longridge_org.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(joined.level, "approver", "Longridge has its first approver");
    let queue = hana.get("/manage/requests").await.text().await.unwrap();
    assert!(
        !queue.contains("New job"),
        "answered requests leave the queue"
    );
    let by_helpdesk = app
        .audit_of(&ben_id)
        .await
        .into_iter()
        .find(|r| {
            r.action == "access_request.decided"
                && r.details.as_deref().unwrap_or("").contains("\"helpdesk\"")
        })
        .expect("the helpdesk's answer is audited as such");
    assert_ne!(by_helpdesk.actor, ana.id);

    // Ana cannot open a request made to another organisation.
    let approver = app.sign_in_verified(ANA, PASSWORD, &ana_device).await;
    let others = app
        .store
        .access_requests_of(ben_id.as_str())
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.organisation_id != oakhurst.id)
        .unwrap();
    assert_eq!(
        approver
            .get(&format!("{org}/requests/{}", others.id))
            .await
            .status(),
        404
    );
}
