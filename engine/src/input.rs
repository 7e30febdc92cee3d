//! The receiving side of a task: merges its channels, keeps each channel's
//! watermark and combines them by minimum, aligns checkpoint barriers, and
//! reports the end once every channel ended.

use std::collections::VecDeque;

use std::time::Duration;

use tokio::time::Instant;

use tokio::sync::mpsc;

use crate::batch::ChangeBatch;
use crate::error::Result;
use crate::exchange::Envelope;
use crate::internal_err;
use crate::message::{MAX_WATERMARK, MIN_WATERMARK, Message};

/// What the gate hands the task, in order.
#[derive(Debug)]
pub enum GateEvent {
    /// Rows for input `input` of the operator.
    Batch {
        /// Which operator input.
        input: usize,
        /// The rows.
        batch: ChangeBatch,
    },
    /// The minimum watermark over all channels advanced.
    Watermark(i64),
    /// Every channel delivered barrier `id`.
    Barrier(u64),
    /// Every channel ended.
    End,
}

#[derive(Debug)]
struct Channel {
    input: usize,
    watermark: i64,
    ended: bool,
    /// Sent nothing for the idle timeout: not counted in the minimum.
    idle: bool,
    last_seen: Instant,
    /// The barrier this channel delivered while others have not yet.
    barrier: Option<u64>,
    /// Messages that arrived after that barrier, held until alignment.
    held: VecDeque<Message>,
}

/// Merges the channels of one subtask.
#[derive(Debug)]
pub struct InputGate {
    rx: mpsc::Receiver<Envelope>,
    channels: Vec<Channel>,
    replay: VecDeque<Envelope>,
    watermark: i64,
    ended: bool,
    idle_timeout: Option<Duration>,
}

impl InputGate {
    /// A gate over `rx`; channel `c` feeds operator input `inputs[c]`.
    pub fn new(rx: mpsc::Receiver<Envelope>, inputs: Vec<usize>) -> Self {
        let channels = inputs
            .into_iter()
            .map(|input| Channel {
                input,
                watermark: MIN_WATERMARK,
                ended: false,
                idle: false,
                last_seen: Instant::now(),
                barrier: None,
                held: VecDeque::new(),
            })
            .collect();
        Self {
            rx,
            channels,
            replay: VecDeque::new(),
            watermark: MIN_WATERMARK,
            ended: false,
            idle_timeout: None,
        }
    }

    /// Channels silent for `timeout` stop holding back the watermark.
    pub fn with_idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout.filter(|t| !t.is_zero());
        self
    }

    /// Marks channels silent past the idle timeout as idle; returns the
    /// watermark event if that let the minimum advance.
    fn mark_idle(&mut self) -> Option<GateEvent> {
        let timeout = self.idle_timeout?;
        let now = Instant::now();
        let mut changed = false;
        for c in self.channels.iter_mut().filter(|c| !c.ended && !c.idle) {
            if now.duration_since(c.last_seen) >= timeout {
                c.idle = true;
                changed = true;
            }
        }
        if changed {
            self.advance_watermark()
        } else {
            None
        }
    }

    /// When the next channel may turn idle.
    fn next_idle_check(&self) -> Option<Instant> {
        let timeout = self.idle_timeout?;
        self.channels
            .iter()
            .filter(|c| !c.ended && !c.idle)
            .map(|c| c.last_seen + timeout)
            .min()
    }

    /// The next event, or `None` after `End` was returned.
    pub async fn next(&mut self) -> Result<Option<GateEvent>> {
        if self.ended {
            return Ok(None);
        }
        if self.channels.is_empty() {
            self.ended = true;
            return Ok(Some(GateEvent::End));
        }
        loop {
            let (c, msg) = match self.replay.pop_front() {
                Some(env) => env,
                None => {
                    let received = match self.next_idle_check() {
                        None => self.rx.recv().await,
                        Some(at) => match tokio::time::timeout_at(at, self.rx.recv()).await {
                            Ok(r) => r,
                            Err(_) => {
                                if let Some(ev) = self.mark_idle() {
                                    return Ok(Some(ev));
                                }
                                continue;
                            }
                        },
                    };
                    match received {
                        Some(env) => env,
                        None => return internal_err!("input channels closed without End"),
                    }
                }
            };
            if let Some(ch) = self.channels.get_mut(c) {
                ch.last_seen = Instant::now();
                ch.idle = false;
            }
            let Some(ch) = self.channels.get_mut(c) else {
                return internal_err!("message on unknown channel {c}");
            };
            if ch.barrier.is_some() {
                ch.held.push_back(msg);
                continue;
            }
            if let Some(ev) = self.on_message(c, msg)? {
                return Ok(Some(ev));
            }
        }
    }

    fn on_message(&mut self, c: usize, msg: Message) -> Result<Option<GateEvent>> {
        let ch = &mut self.channels[c];
        match msg {
            Message::Batch(batch) => Ok(Some(GateEvent::Batch {
                input: ch.input,
                batch,
            })),
            Message::Watermark(w) => {
                ch.watermark = ch.watermark.max(w);
                Ok(self.advance_watermark())
            }
            Message::Barrier(id) => {
                ch.barrier = Some(id);
                Ok(self.try_align())
            }
            Message::End => {
                ch.ended = true;
                ch.watermark = MAX_WATERMARK;
                if self.channels.iter().all(|c| c.ended) {
                    // Pending barriers can never align now: release them.
                    self.ended = true;
                    return Ok(Some(GateEvent::End));
                }
                if let Some(ev) = self.try_align() {
                    return Ok(Some(ev));
                }
                Ok(self.advance_watermark())
            }
        }
    }

    fn advance_watermark(&mut self) -> Option<GateEvent> {
        let min = self
            .channels
            .iter()
            .filter(|c| !c.ended && !c.idle)
            .map(|c| c.watermark)
            .min()?;
        if min > self.watermark {
            self.watermark = min;
            Some(GateEvent::Watermark(min))
        } else {
            None
        }
    }

    /// Emits the barrier once every live channel delivered it, then replays
    /// what was held back.
    fn try_align(&mut self) -> Option<GateEvent> {
        let mut id = None;
        for c in self.channels.iter().filter(|c| !c.ended) {
            match c.barrier {
                None => return None,
                Some(b) => id = Some(b),
            }
        }
        let id = id?;
        for (i, c) in self.channels.iter_mut().enumerate() {
            c.barrier = None;
            for m in c.held.drain(..).rev() {
                self.replay.push_front((i, m));
            }
        }
        Some(GateEvent::Barrier(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn events(msgs: Vec<(usize, Message)>, channels: usize) -> Vec<String> {
        let (tx, rx) = mpsc::channel(64);
        for m in msgs {
            tx.send(m).await.expect("send");
        }
        let mut gate = InputGate::new(rx, vec![0; channels]);
        let mut out = vec![];
        while let Some(ev) = gate.next().await.expect("next") {
            out.push(match ev {
                GateEvent::Batch { batch, .. } => format!("batch{}", batch.num_rows()),
                GateEvent::Watermark(w) => format!("wm{w}"),
                GateEvent::Barrier(b) => format!("barrier{b}"),
                GateEvent::End => "end".into(),
            });
        }
        out
    }

    fn batch(n: usize) -> Message {
        use datafusion::arrow::array::Int32Array;
        use datafusion::arrow::datatypes::{DataType, Field, Schema};
        use datafusion::arrow::record_batch::RecordBatch;
        use std::sync::Arc;
        let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Int32, false)]));
        let data = RecordBatch::try_new(schema, vec![Arc::new(Int32Array::from(vec![1; n]))])
            .expect("batch");
        Message::Batch(ChangeBatch::inserts(data))
    }

    #[tokio::test]
    async fn watermark_is_minimum_and_end_releases_it() {
        let out = events(
            vec![
                (0, Message::Watermark(10)),
                (1, Message::Watermark(5)),
                (1, Message::Watermark(20)),
                (0, Message::End),
                (1, Message::End),
            ],
            2,
        )
        .await;
        assert_eq!(out, vec!["wm5", "wm10", "wm20", "end"]);
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_channel_stops_holding_back_the_watermark() {
        let (tx, rx) = mpsc::channel(64);
        let mut gate =
            InputGate::new(rx, vec![0, 0]).with_idle_timeout(Some(Duration::from_secs(5)));
        tx.send((0, Message::Watermark(10))).await.expect("send");
        tx.send((1, Message::Watermark(3))).await.expect("send");
        let mut seen = vec![];
        // Channel 1 goes quiet; channel 0 keeps talking.
        let sender = tx.clone();
        tokio::spawn(async move {
            for w in [20, 30] {
                tokio::time::sleep(Duration::from_secs(4)).await;
                let _ = sender.send((0, Message::Watermark(w))).await;
            }
        });
        for _ in 0..3 {
            match gate.next().await.expect("next") {
                Some(GateEvent::Watermark(w)) => seen.push(w),
                other => panic!("unexpected {other:?}"),
            }
        }
        // 3 (both), then channel 1 idle after 5 s: 20 (channel 0 alone), 30.
        assert_eq!(seen, vec![3, 20, 30]);
        // An idle channel that speaks again counts again; the watermark never goes back.
        tx.send((1, Message::Watermark(25))).await.expect("send");
        tx.send((1, Message::Watermark(40))).await.expect("send");
        tx.send((0, Message::Watermark(50))).await.expect("send");
        match gate.next().await.expect("next") {
            Some(GateEvent::Watermark(w)) => assert_eq!(w, 40, "channel 1 counts again"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn barrier_holds_back_the_aligned_channel() {
        let out = events(
            vec![
                (0, Message::Barrier(1)),
                (0, batch(2)),
                (1, batch(3)),
                (1, Message::Barrier(1)),
                (0, Message::End),
                (1, Message::End),
            ],
            2,
        )
        .await;
        assert_eq!(out, vec!["batch3", "barrier1", "batch2", "end"]);
    }
}
