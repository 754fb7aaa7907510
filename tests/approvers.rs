//! The approver pages as an approver would use them, on both engines: only with 2-step
//! verification; finding people; inviting a colleague with services and roles (one email,
//! one change); changing someone's services; appointing and standing down approvers;
//! removing someone (their access ends at once) — and nothing at all in an organisation
//! they do not approve, with every such attempt audited.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::oidc::PASSWORD;
use common::smtp::SmtpSink;
use common::{Browser, Engine, TestApp, csrf_in, location};
use gatehouse::audit::{Actor, RequestContext};
use gatehouse::directory::{Directory, Level};
use gatehouse::domain::{Email, UserId};
use gatehouse::store::{OrganisationRow, UserRow};

both_engines!(
    approvers_look_after_their_own_organisation,
    approvers_cannot_reach_into_other_organisations,
);

const SCOPES: &str = "openid profile email organisation";
const ANA: &str = "ana.lopez@oakhurst.example";
const BEN: &str = "ben.osei@oakhurst.example";
const DAN: &str = "dan.moss@oakhurst.example";
const CARA: &str = "cara.lund@longridge.example";

struct World {
    app: TestApp,
    sink: SmtpSink,
    directory: Directory,
    oakhurst: OrganisationRow,
    longridge: OrganisationRow,
}

async fn world(engine: Engine) -> World {
    let (app, sink) = TestApp::spawn_with_sink(engine).await;
    let directory = app.directory_with_schools().await;
    let roles = [
        ("submitter", "Submits returns"),
        ("viewer", "Views returns"),
    ];
    app.organisation_service(&directory, "census", SCOPES, &roles)
        .await;
    let oakhurst = directory.find("100019").await.unwrap().unwrap();
    let longridge = directory.find("100021").await.unwrap().unwrap();
    World {
        app,
        sink,
        directory,
        oakhurst,
        longridge,
    }
}

impl World {
    async fn person(&self, email: &str, org: &OrganisationRow, level: Level) -> UserRow {
        let id = self.app.create_user(email, PASSWORD).await;
        let user = self.app.store.user_by_id(&id).await.unwrap().unwrap();
        self.directory
            .add_member(
                &user,
                &org.id,
                level,
                Actor::Cli,
                &RequestContext::default(),
            )
            .await
            .unwrap();
        user
    }

    /// Ana, approver of Oakhurst, signed in with her authenticator app.
    async fn ana(&self) -> (UserRow, Browser) {
        let id = self.app.create_user(ANA, PASSWORD).await;
        let me = self.app.verified_browser(ANA, PASSWORD).await;
        let ana = self.app.store.user_by_id(&id).await.unwrap().unwrap();
        let ctx = RequestContext::default();
        self.directory
            .add_member(&ana, &self.oakhurst.id, Level::Approver, Actor::Cli, &ctx)
            .await
            .unwrap();
        (ana, me)
    }

    async fn roles(&self, user: &str, org: &OrganisationRow) -> Option<Vec<String>> {
        let held = self
            .app
            .store
            .access_organisations(user, "census")
            .await
            .unwrap();
        if !held.iter().any(|o| o.id == org.id) {
            return None;
        }
        Some(
            self.app
                .store
                .access_roles(user, &org.id, "census")
                .await
                .unwrap(),
        )
    }

    async fn level(&self, user: &str, org: &OrganisationRow) -> Option<String> {
        self.app
            .store
            .membership(user, &org.id)
            .await
            .unwrap()
            .map(|m| m.level)
    }
}

async fn page(me: &Browser, path: &str) -> String {
    let answer = me.get(path).await;
    assert_eq!(answer.status(), 200, "{path}");
    answer.text().await.unwrap()
}

async fn approvers_look_after_their_own_organisation(engine: Engine) {
    let w = world(engine).await;
    let ben = w.person(BEN, &w.oakhurst, Level::Member).await;

    // A password is not enough for the approver pages.
    let plain = w.app.browser();
    plain.sign_in(BEN, PASSWORD).await;
    let refused = plain.get("/organisation").await;
    assert_eq!(refused.status(), 303);
    assert_eq!(
        location(&refused),
        "/sign-in/verify?return_to=%2Forganisation"
    );

    let (ana, me) = w.ana().await;
    let home = me.get("/organisation").await;
    assert_eq!(location(&home), format!("/organisation/{}", w.oakhurst.id));
    let org = format!("/organisation/{}", w.oakhurst.id);
    let list = page(&me, &org).await;
    assert!(list.contains("Oakhurst CofE Primary School"));
    assert!(list.contains(BEN) && list.contains(ANA), "{list}");
    let found = page(&me, &format!("{org}?q=OSEI")).await;
    assert!(found.contains(BEN) && !found.contains(ANA));
    // Wildcards are searched for literally.
    let none = page(&me, &format!("{org}?q=%25")).await;
    assert!(
        !none.contains(BEN) && none.contains("0 people match"),
        "{none}"
    );

    // Give Ben the census service as a submitter.
    let person = format!("{org}/people/{}", ben.id);
    let html = page(&me, &person).await;
    assert!(html.contains("Submits returns") && html.contains("Views returns"));
    let saved = me
        .post(
            &format!("{person}/services"),
            &[
                ("csrf_token", &csrf_in(&html)),
                ("service", "census"),
                ("role", "census:submitter"),
                ("role", "elsewhere:admin"),
            ],
        )
        .await;
    assert_eq!(saved.status(), 303);
    assert_eq!(location(&saved), format!("{person}?notice=services"));
    assert_eq!(
        w.roles(&ben.id, &w.oakhurst).await,
        Some(vec!["submitter".to_owned()])
    );
    let granted = w.app.audit_of(&ben.user_id()).await;
    let row = granted
        .iter()
        .find(|r| r.action == "access.granted")
        .unwrap();
    assert_eq!(row.actor, ana.id, "the approver is recorded as the actor");
    // A role the service does not define is refused beside the field, and nothing changes.
    let html = page(&me, &person).await;
    let wrong = me
        .post(
            &format!("{person}/services"),
            &[
                ("csrf_token", &csrf_in(&html)),
                ("service", "census"),
                ("role", "census:owner"),
            ],
        )
        .await;
    assert_eq!(wrong.status(), 422);
    assert!(wrong.text().await.unwrap().contains("no role called owner"));
    assert_eq!(
        w.roles(&ben.id, &w.oakhurst).await,
        Some(vec!["submitter".to_owned()])
    );

    // Make Ben an approver, then stand him down; Ana, the last approver, cannot stand down.
    let html = page(&me, &person).await;
    let token = csrf_in(&html);
    let made = me
        .post(
            &format!("{person}/level"),
            &[("csrf_token", &token), ("level", "approver")],
        )
        .await;
    assert_eq!(made.status(), 303);
    assert_eq!(
        w.level(&ben.id, &w.oakhurst).await.as_deref(),
        Some("approver")
    );
    me.post(
        &format!("{person}/level"),
        &[("csrf_token", &token), ("level", "member")],
    )
    .await;
    assert_eq!(
        w.level(&ben.id, &w.oakhurst).await.as_deref(),
        Some("member")
    );
    let last = me
        .post(
            &format!("{org}/people/{}/level", ana.id),
            &[("csrf_token", &token), ("level", "member")],
        )
        .await;
    assert_eq!(last.status(), 422);
    assert!(
        last.text()
            .await
            .unwrap()
            .contains("needs at least one approver")
    );
    assert_eq!(
        w.level(&ana.id, &w.oakhurst).await.as_deref(),
        Some("approver")
    );

    // Invite Dan with the census service as a viewer: one email, and his access is ready.
    let form = page(&me, &format!("{org}/invite")).await;
    let empty = me
        .post(
            &format!("{org}/invite"),
            &[("csrf_token", &csrf_in(&form)), ("email", "dan@")],
        )
        .await;
    assert_eq!(empty.status(), 422);
    let text = empty.text().await.unwrap();
    assert!(text.contains("correct format") && text.contains("Enter their first name"));
    let sent = me
        .post(
            &format!("{org}/invite"),
            &[
                ("csrf_token", &csrf_in(&form)),
                ("email", DAN),
                ("given_name", "Dan"),
                ("family_name", "Moss"),
                ("service", "census"),
                ("role", "census:viewer"),
            ],
        )
        .await;
    assert_eq!(sent.status(), 303);
    assert_eq!(location(&sent), format!("{org}?notice=invited"));
    let mail = w.sink.wait_for(DAN, 1).await;
    assert!(mail[0].link(&w.app.base, "/activate/").is_some());
    let dan = w
        .app
        .store
        .user_by_email(&Email::parse(DAN).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(dan.status, "invited");
    assert_eq!(
        w.level(&dan.id, &w.oakhurst).await.as_deref(),
        Some("member")
    );
    assert_eq!(
        w.roles(&dan.id, &w.oakhurst).await,
        Some(vec!["viewer".to_owned()])
    );

    // Remove Ben: his membership and his access end at once.
    let confirm = page(&me, &format!("{person}/remove")).await;
    assert!(
        confirm.contains("from Oakhurst CofE Primary School?"),
        "{confirm}"
    );
    let removed = me
        .post(
            &format!("{person}/remove"),
            &[("csrf_token", &csrf_in(&confirm))],
        )
        .await;
    assert_eq!(removed.status(), 303);
    assert_eq!(location(&removed), format!("{org}?notice=removed"));
    assert_eq!(w.level(&ben.id, &w.oakhurst).await, None);
    assert_eq!(w.roles(&ben.id, &w.oakhurst).await, None);
    assert_eq!(me.get(&person).await.status(), 404, "no longer hers to see");

    // A form without its CSRF token changes nothing.
    let forged = me
        .post(
            &format!("{org}/people/{}/level", dan.id),
            &[("level", "approver")],
        )
        .await;
    assert_eq!(forged.status(), 403);
    assert_eq!(
        w.level(&dan.id, &w.oakhurst).await.as_deref(),
        Some("member")
    );
}

async fn approvers_cannot_reach_into_other_organisations(engine: Engine) {
    let w = world(engine).await;
    let cara = w.person(CARA, &w.longridge, Level::Member).await;
    w.directory
        .grant_access(
            &cara,
            &w.longridge.id,
            "census",
            &["viewer".into()],
            Actor::Cli,
            &RequestContext::default(),
        )
        .await
        .unwrap();
    let (ana, me) = w.ana().await;
    let ours = format!("/organisation/{}", w.oakhurst.id);
    let theirs = format!("/organisation/{}", w.longridge.id);

    // Another organisation's pages: forbidden.
    assert_eq!(me.get(&theirs).await.status(), 403);
    assert_eq!(me.get(&format!("{theirs}/invite")).await.status(), 403);
    assert_eq!(
        me.get(&format!("{theirs}/people/{}", cara.id))
            .await
            .status(),
        403
    );
    // Another organisation's person, through her own organisation's pages: not found.
    let token = csrf_in(&page(&me, &format!("{ours}/invite")).await);
    let swapped = format!("{ours}/people/{}", cara.id);
    assert_eq!(me.get(&swapped).await.status(), 404);
    for (path, fields) in [
        (
            format!("{swapped}/services"),
            vec![("csrf_token", token.as_str())],
        ),
        (
            format!("{swapped}/level"),
            vec![("csrf_token", token.as_str()), ("level", "approver")],
        ),
        (
            format!("{swapped}/remove"),
            vec![("csrf_token", token.as_str())],
        ),
        (
            format!("{theirs}/people/{}/remove", cara.id),
            vec![("csrf_token", token.as_str())],
        ),
    ] {
        let answer = me.post(&path, &fields).await;
        assert!(
            [403, 404].contains(&answer.status().as_u16()),
            "{path}: {}",
            answer.status()
        );
    }
    assert_eq!(
        w.level(&cara.id, &w.longridge).await.as_deref(),
        Some("member")
    );
    assert_eq!(
        w.roles(&cara.id, &w.longridge).await,
        Some(vec!["viewer".to_owned()])
    );
    assert_eq!(w.level(&cara.id, &w.oakhurst).await, None);

    // Every attempt is in the audit trail, against Ana.
    let refused: Vec<_> = w
        .app
        .audit_of(&UserId::from_stored(ana.id.clone()))
        .await
        .into_iter()
        .filter(|r| r.action == "approver.refused")
        .collect();
    assert!(refused.len() >= 7, "{}", refused.len());
    assert!(refused.iter().all(|r| r.outcome == "failure"));
    let about_cara = w.app.audit_of(&cara.user_id()).await;
    assert!(
        about_cara
            .iter()
            .any(|r| r.action == "approver.refused" && r.actor == ana.id)
    );

    // Someone who approves nothing is told so.
    let dan = w.app.create_user(DAN, PASSWORD).await;
    let _ = dan;
    let other = w.app.verified_browser(DAN, PASSWORD).await;
    let nothing = other.get("/organisation").await;
    assert_eq!(nothing.status(), 403);
    assert!(
        nothing
            .text()
            .await
            .unwrap()
            .contains("You are not an approver")
    );
}
