//! The update-kind inference (Flink's): which updating streams must carry
//! `-U` rows. A sink that applies `+U` as an upsert needs none, and an
//! operator passes the need on to its inputs as it says
//! ([`OperatorFactory::input_needs_update_before`]); an updating node whose
//! consumers need none then emits none, and its changelog mode says so.
//!
//! [`OperatorFactory::input_needs_update_before`]: eddy_engine::operator::OperatorFactory::input_needs_update_before

use eddy_engine::graph::NodeKind;

use super::{ChangelogMode, StreamPlan};

impl StreamPlan {
    /// Runs the inference; call once every sink is in the plan.
    pub fn settle_update_before(&mut self) {
        let late_sink = self.late_rows.as_ref().map(|l| l.sink);
        let mut needed = vec![false; self.nodes.len()];
        for n in self.nodes.iter().rev() {
            let NodeKind::Operator(factory) = &n.kind else {
                continue;
            };
            if Some(n.id) == late_sink {
                continue;
            }
            let need = factory.input_needs_update_before(needed[n.id]);
            for e in &n.inputs {
                needed[e.from] |= need;
            }
        }
        for (id, need) in needed.iter().enumerate() {
            let n = &self.nodes[id];
            if !n.is_updating() || *need {
                continue;
            }
            let NodeKind::Operator(factory) = &n.kind else {
                continue;
            };
            if let Some(upsert) = factory.without_update_before() {
                self.nodes[id].kind = NodeKind::Operator(upsert);
                self.nodes[id].props.changelog = ChangelogMode::Upsert;
            } else if !factory.input_needs_update_before(false)
                && n.inputs
                    .iter()
                    .all(|e| self.nodes[e.from].props.changelog != ChangelogMode::Retract)
            {
                // Passes on what it gets, and gets no `-U`.
                self.nodes[id].props.changelog = ChangelogMode::Upsert;
            }
        }
    }
}
