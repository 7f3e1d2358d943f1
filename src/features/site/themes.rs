//! The public site's four sections, named for the network's themes: each a landing page of
//! what it holds, so every area has a place without crowding the header. A new area adds its
//! links to its theme here.
use askama::Template;
use axum::response::Response;

use crate::core::{
    context::Ctx,
    layout::{render, Page},
};

/// One thing a theme holds: where, what it is called, and a sentence on what it is.
pub struct Entry {
    pub href: &'static str,
    pub title: &'static str,
    pub about: &'static str,
}

pub struct Theme {
    /// Its landing page.
    pub href: &'static str,
    pub title: &'static str,
    pub intro: &'static str,
    pub entries: &'static [Entry],
    /// (title, address) of the Atom feeds of what it holds: its page and the home page name
    /// them for feed readers.
    pub feeds: &'static [(&'static str, &'static str)],
}

pub const KNOWLEDGE: Theme = Theme {
    href: "/knowledge",
    title: "Knowledge",
    intro: "What members and groups share with each other: opportunities, news and resources.",
    entries: &[
        Entry {
            href: "/archive/bulletin",
            title: "The weekly bulletin",
            about: "Every past issue, and its feed for your feed reader.",
        },
        Entry {
            href: "/bulletin/submit",
            title: "Send something for the bulletin",
            about: "Members share paid work, events, funding and news. The editors reply to everything.",
        },
        Entry {
            href: "/newsletter",
            title: "The supporters' newsletter",
            about: "News of the network's work now and then, for anyone, with only an email address.",
        },
    ],
    feeds: &[
        ("Weekly bulletin", "/archive/bulletin/feed.atom"),
        ("Supporters' newsletter", "/archive/supporters/feed.atom"),
    ],
};

pub const COLLABORATION: Theme = Theme {
    href: "/collaboration",
    title: "Collaboration",
    intro: "The user-led groups in the network, and how to reach them.",
    entries: &[
        Entry {
            href: "/groups",
            title: "Groups in the network",
            about: "Small groups run by people with lived experience, across the UK.",
        },
        Entry {
            href: "/groups/new",
            title: "Register a group",
            about: "For members: your group does not need to be constituted.",
        },
    ],
    feeds: &[],
};

pub const VOICE: Theme = Theme {
    href: "/voice",
    title: "Voice",
    intro: "Being heard together: open letters and petitions, and support for members' own campaigns.",
    entries: &[
        Entry {
            href: "/letters",
            title: "Open letters and petitions",
            about: "Read them, sign them, and see who has signed.",
        },
        Entry {
            href: "/support",
            title: "Ask the network to support your campaign",
            about: "For members and their groups: we answer every request.",
        },
        Entry {
            href: "/support/alert",
            title: "Tell us about a policy issue",
            about: "Something happening that the network should know about.",
        },
    ],
    feeds: &[],
};

pub const RESOURCING: Theme = Theme {
    href: "/resourcing",
    title: "Resourcing",
    intro: "Money for user-led work: how it is given, who decides, and who it reaches.",
    entries: &[
        Entry {
            href: "/grants",
            title: "Grants",
            about: "Open rounds, their criteria and who decides; and what was decided.",
        },
        Entry {
            href: "/grants/mine",
            title: "Your applications and panels",
            about: "For members: applications you have started or sent, and the panels you sit on.",
        },
        Entry {
            href: "/grants/fairness",
            title: "Who our grants reach",
            about: "Applications and awards by region, community and more, round by round.",
        },
        Entry {
            href: "/grants/open-data.json",
            title: "Our grants as open data",
            about: "Every award in the 360Giving standard (also as a spreadsheet: /grants/open-data.csv).",
        },
    ],
    feeds: &[],
};

#[derive(Template)]
#[template(path = "site/theme.html")]
struct ThemePage {
    page: Page,
    theme: &'static Theme,
}

fn show(ctx: &Ctx, theme: &'static Theme) -> Response {
    let page =
        theme.feeds.iter().fold(Page::new(ctx, theme.title), |page, (title, href)| page.with_feed(*title, *href));
    render(&ThemePage { page, theme })
}

pub async fn knowledge(ctx: Ctx) -> Response {
    show(&ctx, &KNOWLEDGE)
}

pub async fn collaboration(ctx: Ctx) -> Response {
    show(&ctx, &COLLABORATION)
}

pub async fn voice(ctx: Ctx) -> Response {
    show(&ctx, &VOICE)
}

pub async fn resourcing(ctx: Ctx) -> Response {
    show(&ctx, &RESOURCING)
}
