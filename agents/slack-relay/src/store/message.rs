//! What an inbound notification becomes: one outbox row per message, and
//! what storing it answered.

/// What one outbox row asks the dispatcher to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A new message.
    Post,
    /// A reply in the thread of the group's last message (a new message when
    /// there is none).
    Reply,
    /// Edit the group's last message in place (nothing when there is none).
    Update,
    /// Open an incident in srp-api (`--api-url`): a firing alert with a
    /// `project` label. Not a Slack message.
    IncidentOpen,
    /// Close it: the alert's resolve.
    IncidentClose,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Post => "post",
            Kind::Reply => "reply",
            Kind::Update => "update",
            Kind::IncidentOpen => "incident_open",
            Kind::IncidentClose => "incident_close",
        }
    }
    /// A call to srp-api rather than a Slack message.
    pub fn is_incident(self) -> bool {
        matches!(self, Kind::IncidentOpen | Kind::IncidentClose)
    }
    pub fn parse(s: &str) -> Kind {
        match s {
            "reply" => Kind::Reply,
            "update" => Kind::Update,
            "incident_open" => Kind::IncidentOpen,
            "incident_close" => Kind::IncidentClose,
            _ => Kind::Post,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewMessage {
    pub route: String,
    pub kind: Kind,
    pub group_key: String,
    pub title: String,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct NewNotification {
    pub source: &'static str,
    pub dedupe_key: String,
    pub messages: Vec<NewMessage>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    Stored { messages: usize },
    Duplicate,
}
