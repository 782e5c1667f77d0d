//! A recording chat platform: every call is kept for assertions, and failures can be
//! injected (rate limits, outages, name collisions, permanent errors).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use sevbot::domain::SevId;
use sevbot::effects::{DeliveryError, Message, NewChannel, Platform};

#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    Reply {
        channel: String,
        user: Option<String>,
        text: String,
    },
    Create {
        name: String,
        private: bool,
    },
    Invite {
        channel: String,
        people: Vec<String>,
    },
    Topic {
        channel: String,
        topic: String,
    },
    Post {
        channel: String,
        id: String,
        text: String,
        key: String,
    },
    Edit {
        channel: String,
        id: String,
        text: String,
    },
    Pin {
        channel: String,
        id: String,
    },
    /// A page: a direct message to a person.
    Page {
        person: String,
        text: String,
        key: String,
    },
}

impl Call {
    pub fn channel(&self) -> &str {
        match self {
            Call::Create { name, .. } => name,
            Call::Invite { channel, .. }
            | Call::Topic { channel, .. }
            | Call::Post { channel, .. }
            | Call::Edit { channel, .. }
            | Call::Pin { channel, .. }
            | Call::Reply { channel, .. } => channel,
            Call::Page { person, .. } => person,
        }
    }
}

pub struct Fake {
    pub name: String,
    pub calls: Mutex<Vec<Call>>,
    failures: Mutex<VecDeque<DeliveryError>>,
    pub down: AtomicBool,
    pub taken: Mutex<HashSet<String>>,
    /// Fail the next call of this kind ("pin", "post", …) once.
    fail_kind: Mutex<Option<(&'static str, DeliveryError)>>,
    /// Calls of this kind ("create", "post", "page") carry out their effect but the
    /// answer is lost, this many times: the outbox sees a timeout.
    lose: Mutex<HashMap<&'static str, usize>>,
    /// Calls of this kind hang this long before answering (a stuck platform).
    hang: Mutex<HashMap<&'static str, Duration>>,
    /// Which SEV each channel this fake made was for.
    made_for: Mutex<HashMap<String, SevId>>,
    /// Pages to these people fail with this error (someone the platform does not know).
    unreachable: Mutex<HashMap<String, DeliveryError>>,
    /// Archived channels: like Slack, they take no posts, edits, topics or pins.
    pub archived: Mutex<HashSet<String>>,
    next_id: AtomicU64,
}

impl Fake {
    pub fn new(name: &str) -> Fake {
        Fake {
            name: name.into(),
            calls: Mutex::new(vec![]),
            failures: Mutex::new(VecDeque::new()),
            down: AtomicBool::new(false),
            taken: Mutex::new(HashSet::new()),
            fail_kind: Mutex::new(None),
            lose: Mutex::new(HashMap::new()),
            hang: Mutex::new(HashMap::new()),
            made_for: Mutex::new(HashMap::new()),
            unreachable: Mutex::new(HashMap::new()),
            archived: Mutex::new(HashSet::new()),
            next_id: AtomicU64::new(1),
        }
    }

    fn not_archived(&self, channel: &str) -> Result<(), DeliveryError> {
        match self.archived.lock().unwrap().contains(channel) {
            true => Err(DeliveryError::Permanent("is_archived".into())),
            false => Ok(()),
        }
    }

    /// The next `n` calls of `kind` happen, but their answers never arrive.
    pub fn lose_answers(&self, kind: &'static str, n: usize) {
        self.lose.lock().unwrap().insert(kind, n);
    }

    /// Every page to `person` fails with `e`.
    pub fn unreachable(&self, person: &str, e: DeliveryError) {
        self.unreachable.lock().unwrap().insert(person.into(), e);
    }

    /// Calls of `kind` hang for `d` before answering (until `unhang`).
    pub fn hang(&self, kind: &'static str, d: Duration) {
        self.hang.lock().unwrap().insert(kind, d);
    }

    pub fn unhang(&self, kind: &'static str) {
        self.hang.lock().unwrap().remove(kind);
    }

    async fn stall(&self, kind: &'static str) {
        let d = self.hang.lock().unwrap().get(kind).copied();
        if let Some(d) = d {
            tokio::time::sleep(d).await;
        }
    }

    /// After doing the call: whether its answer is lost.
    fn answer(&self, kind: &'static str) -> Result<(), DeliveryError> {
        let mut lose = self.lose.lock().unwrap();
        match lose.get_mut(kind) {
            Some(n) if *n > 0 => {
                *n -= 1;
                Err(DeliveryError::Uncertain(format!("{kind}: timed out")))
            }
            _ => Ok(()),
        }
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// Everything but pages (which travel on their own queues, ahead of channel work).
    pub fn channel_calls(&self) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| !matches!(c, Call::Page { .. }))
            .collect()
    }

    /// The pages sent: (person, text).
    pub fn pages(&self) -> Vec<(String, String)> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Page { person, text, .. } => Some((person, text)),
                _ => None,
            })
            .collect()
    }

    /// The text of the (first) page `person` got.
    pub fn page_to(&self, person: &str) -> String {
        self.pages()
            .into_iter()
            .find(|(p, _)| p == person)
            .map(|(_, text)| text)
            .unwrap_or_else(|| panic!("{person} was not paged: {:?}", self.pages()))
    }

    /// The newest page `person` got.
    pub fn last_page_to(&self, person: &str) -> String {
        self.pages()
            .into_iter()
            .rev()
            .find(|(p, _)| p == person)
            .map(|(_, text)| text)
            .unwrap_or_else(|| panic!("{person} was not paged: {:?}", self.pages()))
    }

    pub fn clear(&self) {
        self.calls.lock().unwrap().clear();
    }

    pub fn fail_next(&self, e: DeliveryError) {
        self.failures.lock().unwrap().push_back(e);
    }

    pub fn fail_next_of(&self, kind: &'static str, e: DeliveryError) {
        *self.fail_kind.lock().unwrap() = Some((kind, e));
    }

    fn gate_kind(&self, kind: &str) -> Result<(), DeliveryError> {
        self.gate()?;
        let mut slot = self.fail_kind.lock().unwrap();
        if slot.as_ref().is_some_and(|(k, _)| *k == kind) {
            return Err(slot.take().unwrap().1);
        }
        Ok(())
    }

    fn gate(&self) -> Result<(), DeliveryError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(DeliveryError::Retry {
                reason: "503 service unavailable".into(),
                after: None,
            });
        }
        match self.failures.lock().unwrap().pop_front() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn record(&self, c: Call) {
        self.calls.lock().unwrap().push(c);
    }

    fn render(&self, msg: Message<'_>) -> String {
        let mention = |w: &str| self.mention(w);
        let text = msg.plain_text(&sevbot::domain::Markup::plain(&mention));
        match msg.kind() {
            Some(kind) => format!("{kind}: {text}"),
            None => text,
        }
    }
}

#[async_trait]
impl Platform for Fake {
    fn name(&self) -> &str {
        &self.name
    }

    fn mention(&self, who: &str) -> String {
        format!("<{}>", who.trim_start_matches('@'))
    }

    async fn create_channel(&self, ch: &NewChannel<'_>) -> Result<String, DeliveryError> {
        self.stall("create").await;
        self.gate_kind("create")?;
        if !self.taken.lock().unwrap().insert(ch.name.to_string()) {
            return Err(DeliveryError::NameTaken);
        }
        self.made_for
            .lock()
            .unwrap()
            .insert(ch.name.to_string(), ch.sev);
        self.record(Call::Create {
            name: ch.name.into(),
            private: ch.private,
        });
        self.answer("create")?;
        Ok(ch.name.to_string())
    }

    async fn find_channel(&self, ch: &NewChannel<'_>) -> Result<Option<String>, DeliveryError> {
        self.gate()?;
        let mine = self.made_for.lock().unwrap().get(ch.name) == Some(&ch.sev);
        Ok(mine.then(|| ch.name.to_string()))
    }

    async fn invite(&self, channel: &str, people: &[String]) -> Result<(), DeliveryError> {
        self.gate()?;
        self.record(Call::Invite {
            channel: channel.into(),
            people: people.to_vec(),
        });
        Ok(())
    }

    async fn set_topic(&self, channel: &str, topic: &str) -> Result<(), DeliveryError> {
        self.gate()?;
        self.not_archived(channel)?;
        self.record(Call::Topic {
            channel: channel.into(),
            topic: topic.into(),
        });
        Ok(())
    }

    async fn post(
        &self,
        channel: &str,
        msg: Message<'_>,
        key: &str,
    ) -> Result<String, DeliveryError> {
        self.stall("post").await;
        self.gate_kind("post")?;
        self.not_archived(channel)?;
        let id = format!("m{}", self.next_id.fetch_add(1, Ordering::SeqCst));
        self.record(Call::Post {
            channel: channel.into(),
            id: id.clone(),
            text: self.render(msg),
            key: key.into(),
        });
        self.answer("post")?;
        Ok(id)
    }

    async fn find_post(
        &self,
        channel: &str,
        key: &str,
        _since: i64,
    ) -> Result<Option<String>, DeliveryError> {
        self.gate()?;
        Ok(self.calls().into_iter().find_map(|c| match c {
            Call::Post {
                channel: ch,
                id,
                key: k,
                ..
            } if ch == channel && k == key => Some(id),
            _ => None,
        }))
    }

    async fn edit(
        &self,
        channel: &str,
        message_id: &str,
        msg: Message<'_>,
    ) -> Result<(), DeliveryError> {
        self.gate()?;
        self.not_archived(channel)?;
        self.record(Call::Edit {
            channel: channel.into(),
            id: message_id.into(),
            text: self.render(msg),
        });
        Ok(())
    }

    async fn reply(
        &self,
        channel: &str,
        user: Option<&str>,
        text: &str,
        _key: &str,
    ) -> Result<(), DeliveryError> {
        self.gate()?;
        self.record(Call::Reply {
            channel: channel.into(),
            user: user.map(String::from),
            text: text.into(),
        });
        Ok(())
    }

    async fn page(&self, person: &str, msg: Message<'_>, key: &str) -> Result<(), DeliveryError> {
        self.stall("page").await;
        self.gate_kind("page")?;
        if let Some(e) = self.unreachable.lock().unwrap().get(person) {
            return Err(e.clone());
        }
        self.record(Call::Page {
            person: person.into(),
            text: self.render(msg),
            key: key.into(),
        });
        self.answer("page")
    }

    async fn find_page(&self, person: &str, key: &str, _since: i64) -> Result<bool, DeliveryError> {
        self.gate()?;
        Ok(self
            .calls()
            .iter()
            .any(|c| matches!(c, Call::Page { person: p, key: k, .. } if p == person && k == key)))
    }

    async fn archive(&self, channel: &str) -> Result<(), DeliveryError> {
        self.gate()?;
        self.archived.lock().unwrap().insert(channel.into());
        Ok(())
    }

    async fn unarchive(&self, channel: &str) -> Result<(), DeliveryError> {
        self.gate_kind("unarchive")?;
        self.archived.lock().unwrap().remove(channel);
        Ok(())
    }

    async fn pin(&self, channel: &str, message_id: &str) -> Result<(), DeliveryError> {
        self.gate_kind("pin")?;
        self.record(Call::Pin {
            channel: channel.into(),
            id: message_id.into(),
        });
        Ok(())
    }
}
