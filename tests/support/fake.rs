//! A recording chat platform: every call is kept for assertions, and failures can be
//! injected (rate limits, outages, name collisions, permanent errors).

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use async_trait::async_trait;
use sevbot::effects::{DeliveryError, Message, Platform};

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
            next_id: AtomicU64::new(1),
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
                Call::Page { person, text } => Some((person, text)),
                _ => None,
            })
            .collect()
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
        let text = msg.plain_text(&|w: &str| self.mention(w));
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

    async fn create_channel(&self, name: &str, private: bool) -> Result<String, DeliveryError> {
        self.gate()?;
        if !self.taken.lock().unwrap().insert(name.to_string()) {
            return Err(DeliveryError::NameTaken);
        }
        self.record(Call::Create {
            name: name.into(),
            private,
        });
        Ok(name.to_string())
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
        self.record(Call::Topic {
            channel: channel.into(),
            topic: topic.into(),
        });
        Ok(())
    }

    async fn post(&self, channel: &str, msg: Message<'_>) -> Result<String, DeliveryError> {
        self.gate_kind("post")?;
        let id = format!("m{}", self.next_id.fetch_add(1, Ordering::SeqCst));
        self.record(Call::Post {
            channel: channel.into(),
            id: id.clone(),
            text: self.render(msg),
        });
        Ok(id)
    }

    async fn edit(
        &self,
        channel: &str,
        message_id: &str,
        msg: Message<'_>,
    ) -> Result<(), DeliveryError> {
        self.gate()?;
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
    ) -> Result<(), DeliveryError> {
        self.gate()?;
        self.record(Call::Reply {
            channel: channel.into(),
            user: user.map(String::from),
            text: text.into(),
        });
        Ok(())
    }

    async fn page(&self, person: &str, msg: Message<'_>) -> Result<(), DeliveryError> {
        self.gate_kind("page")?;
        self.record(Call::Page {
            person: person.into(),
            text: self.render(msg),
        });
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
