//! A plain breadth-first exploration of the model, beside stateright's checker:
//! shortest counterexamples and the liveness check on the explicit state graph.

use std::collections::HashMap;

use stateright::Model;

use crate::action::Action;
use crate::lock_model::LockModel;
use crate::state::{Pc, State};

/// A condition on a state.
pub type Predicate = fn(&State) -> bool;

/// A plain breadth-first exploration of the same model, for what stateright's checker
/// does not offer: shortest counterexamples (its parallel BFS keeps the last violating
/// path it meets, not the first) and a liveness check on the whole state graph.
pub struct Explorer {
    pub states: Vec<State>,
    /// How each state was first reached (BFS order, so paths are shortest).
    parent: Vec<Option<(usize, Action)>>,
    /// Predecessors along fault-free steps.
    back: Vec<Vec<usize>>,
    /// How many steps the `count` predicate of the exploration held for.
    pub counted: usize,
}

/// A condition on a step between states.
pub type StepPredicate = fn(&State, Action, &State) -> bool;

impl Explorer {
    /// Explores breadth-first, stopping early at the first state where `stop` holds.
    pub fn run(model: &LockModel, stop: impl Fn(&State) -> bool) -> (Explorer, Option<usize>) {
        Explorer::explore(model, stop, |_, _, _| false)
    }

    /// Explores breadth-first as `run` does, counting the steps `count` holds for.
    pub fn explore(
        model: &LockModel,
        stop: impl Fn(&State) -> bool,
        count: StepPredicate,
    ) -> (Explorer, Option<usize>) {
        let mut index: HashMap<State, usize> = HashMap::new();
        let mut x = Explorer {
            states: Vec::new(),
            parent: Vec::new(),
            back: Vec::new(),
            counted: 0,
        };
        for s in model.init_states() {
            index.insert(s.clone(), x.states.len());
            x.states.push(s);
            x.parent.push(None);
            x.back.push(Vec::new());
        }
        let mut actions = Vec::new();
        let mut next = 0;
        while next < x.states.len() {
            let s = x.states[next].clone();
            if stop(&s) {
                return (x, Some(next));
            }
            actions.clear();
            model.actions(&s, &mut actions);
            for &a in &actions {
                let Some(t) = model.next_state(&s, a) else {
                    continue;
                };
                if count(&s, a, &t) {
                    x.counted += 1;
                }
                let j = *index.entry(t).or_insert_with_key(|t| {
                    x.states.push(t.clone());
                    x.parent.push(Some((next, a)));
                    x.back.push(Vec::new());
                    x.states.len() - 1
                });
                if !a.is_fault() {
                    x.back[j].push(next);
                }
            }
            next += 1;
        }
        (x, None)
    }

    /// The shortest schedule to the first state where `bad` holds, one step a line.
    pub fn shortest(model: &LockModel, bad: Predicate) -> Option<String> {
        let (x, found) = Explorer::run(model, bad);
        let mut k = found?;
        let mut steps = Vec::new();
        while let Some((p, a)) = x.parent[k] {
            steps.push((a, k));
            k = p;
        }
        steps.reverse();
        let mut text = String::new();
        for (n, (a, k)) in steps.into_iter().enumerate() {
            let s = &x.states[k];
            let doc = s.doc.map_or("none".to_string(), |d| {
                format!(
                    "owner {:?} fence {} hb {} committed {}",
                    d.owner, d.fence, d.heartbeat, d.committed
                )
            });
            text += &format!(
                "{:>3}. {:<25} doc: {doc:<42} out: {:?} (fence {}); w{} {:?}",
                n + 1,
                format!("{a:?}"),
                s.out,
                s.highest,
                a.worker(),
                s.workers[a.worker()].pc,
            );
            if let Some(to) = a.receiver() {
                text += &format!(", w{to} {:?}", s.workers[to].pc);
            }
            text += "\n";
        }
        Some(text)
    }

    /// A reachable state from which no fault-free run brings every worker to an end.
    pub fn stuck_state(&self) -> Option<&State> {
        let ended = |s: &State| s.workers.iter().all(|w| matches!(w.pc, Pc::Done(_)));
        let mut good: Vec<bool> = self.states.iter().map(ended).collect();
        let mut stack: Vec<usize> = (0..self.states.len()).filter(|&k| good[k]).collect();
        while let Some(k) = stack.pop() {
            for &p in &self.back[k] {
                if !good[p] {
                    good[p] = true;
                    stack.push(p);
                }
            }
        }
        good.iter().position(|g| !g).map(|k| &self.states[k])
    }
}
