//! The sound election's rule where Web Locks are refused (a third-party frame whose storage the
//! browser blocks): the tabs talk over a `BroadcastChannel`, and the oldest tab still open plays.
//!
//! Each tab has a key, its start time in ms plus a random fraction (so two tabs started in the
//! same millisecond still differ). A tab posts its key when it starts; a tab that hears a key
//! for the first time posts its own back, so the newcomer learns of every older tab; a tab
//! that goes (`pagehide`) posts its key negated, and one that comes back from the back/forward
//! cache starts over. A tab that dies without `pagehide` (a crash)
//! stays counted, and if it was the oldest, no tab plays until the others reload.

pub struct Election {
    me: f64,
    others: Vec<f64>,
    gone: bool,
}

impl Election {
    pub fn new(me: f64) -> Self {
        Election {
            me,
            others: Vec::new(),
            gone: false,
        }
    }

    /// This tab's key, to post when it starts.
    pub fn key(&self) -> f64 {
        self.me
    }

    /// The page goes (`pagehide`): the goodbye to post.
    pub fn leave(&mut self) -> f64 {
        self.gone = true;
        -self.me
    }

    /// The page shows (`pageshow`). After [`Election::leave`] it is back from the back/forward
    /// cache: the others forgot it and it may have missed their news, so it starts over and
    /// posts its key again. At the first `pageshow`, nothing.
    pub fn come_back(&mut self) -> Option<f64> {
        if !std::mem::take(&mut self.gone) {
            return None;
        }
        self.others.clear();
        Some(self.me)
    }

    /// Another tab's message: a key (a tab that is open) or a negated key (a tab that went).
    /// True when this tab must post its own key: the sender had not heard of it yet.
    pub fn heard(&mut self, key: f64) -> bool {
        if key < 0.0 {
            self.others.retain(|&other| other != -key);
            return false;
        }
        if key == self.me || self.others.contains(&key) {
            return false;
        }
        self.others.push(key);
        true
    }

    pub fn is_player(&self) -> bool {
        self.others.iter().all(|&other| self.me < other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Delivers each posted message to every other open tab, and their answers, until
    /// nobody has anything left to say.
    fn deliver(tabs: &mut [Election], from: usize, message: f64) {
        let mut posts = vec![(from, message)];
        while let Some((from, message)) = posts.pop() {
            for (to, tab) in tabs.iter_mut().enumerate() {
                if to != from && tab.heard(message) {
                    posts.push((to, tab.key()));
                }
            }
        }
    }

    /// A tab starts beside `tabs` and posts its key.
    fn open(tabs: &mut Vec<Election>, key: f64) {
        tabs.push(Election::new(key));
        let from = tabs.len() - 1;
        deliver(tabs, from, key);
    }

    fn players(tabs: &[Election]) -> Vec<bool> {
        tabs.iter().map(Election::is_player).collect()
    }

    #[test]
    fn the_oldest_open_tab_plays() {
        let mut tabs = Vec::new();
        open(&mut tabs, 10.5);
        assert_eq!(players(&tabs), [true], "a lone tab plays");
        open(&mut tabs, 30.25);
        open(&mut tabs, 20.75);
        assert_eq!(players(&tabs), [true, false, false]);
    }

    #[test]
    fn a_newcomer_learns_of_older_tabs_and_the_answers_stop() {
        let mut old = Election::new(1.0);
        let mut new = Election::new(2.0);
        assert!(new.is_player(), "alone until it hears back");
        assert!(old.heard(2.0), "answers a tab it had not heard of");
        assert!(
            new.heard(1.0),
            "answers in turn: the older tab may not know it yet"
        );
        assert!(!old.heard(2.0), "known: no third message");
        assert!(old.is_player() && !new.is_player());
    }

    #[test]
    fn when_the_player_goes_the_next_oldest_plays() {
        let mut tabs = Vec::new();
        for key in [1.0, 2.0, 3.0] {
            open(&mut tabs, key);
        }
        let mut gone = tabs.remove(0);
        let goodbye = gone.leave();
        deliver(&mut tabs, usize::MAX, goodbye);
        assert_eq!(players(&tabs), [true, false]);
        // Back from the back/forward cache, it posts its key again and plays again.
        let key = gone.come_back().expect("back after leaving");
        tabs.insert(0, gone);
        deliver(&mut tabs, 0, key);
        assert_eq!(players(&tabs), [true, false, false]);
        assert_eq!(
            tabs[0].come_back(),
            None,
            "a pageshow without a pagehide before it"
        );
    }

    #[test]
    fn the_first_pageshow_changes_nothing() {
        let mut tab = Election::new(1.0);
        assert!(tab.heard(0.5));
        assert_eq!(tab.come_back(), None);
        assert!(!tab.is_player(), "still knows the older tab");
    }

    #[test]
    fn a_tab_ignores_its_own_key_and_goodbyes_of_tabs_it_never_knew() {
        let mut tab = Election::new(4.0);
        assert!(!tab.heard(4.0));
        assert!(!tab.heard(-9.0));
        assert!(tab.is_player());
    }
}
