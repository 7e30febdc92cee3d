//! Runs a [`JobGraph`]: one tokio task per subtask of each operator chain,
//! joined by bounded channels (a slow consumer slows its producers).
//!
//! ```text
//!  source task                      operator task
//!  Source -> prelude -> chain ==>  InputGate -> chain -> Output ==> ...
//!                        (Output: hash / forward / broadcast / single)
//! ```
//!
//! The runtime owns the protocol: it generates per-split watermarks at the
//! source, combines watermarks by minimum at every input gate, aligns
//! barriers, turns the end of every input into a final `MAX_WATERMARK`
//! followed by `close`, and stops the whole job on the first error.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::batch::ChangeBatch;
use crate::checkpoint::{Checkpointing, FINAL_CHECKPOINT, SavepointRequest, TaskLink};
use crate::error::{EngineError, Result};
use crate::exchange::{OutEdge, Output, Target};
use crate::graph::{JobGraph, NodeId, NodeKind, Partitioning};
use crate::input::{GateEvent, InputGate};
use crate::message::{MAX_WATERMARK, MIN_WATERMARK, Message};
use crate::metrics::{JobMetrics, JobStats};
use crate::operator::{
    BufferEmitter, Context, Emitted, Emitter, Operator, Source, SourceEvent, SubtaskInfo,
};
use crate::watermark::{ScanPrelude, SplitWatermarks};

/// Messages an inbox holds per upstream sender before the sender waits.
const CHANNEL_CAPACITY: usize = 8;

/// A running job.
pub struct JobHandle {
    name: String,
    /// The table late rows go to, if any.
    late_table: Option<String>,
    tasks: JoinSet<Result<()>>,
    metrics: JobMetrics,
    cancel_tx: watch::Sender<bool>,
    /// Asks the checkpoint coordinator for savepoints (checkpointed jobs).
    savepoints: Option<mpsc::Sender<SavepointRequest>>,
    /// Where a checkpointed job keeps its checkpoints: discarded when the
    /// job finishes, kept when it fails or is cancelled.
    checkpoint_dir: Option<std::path::PathBuf>,
}

/// Takes savepoints of a running job from elsewhere (STOP JOB .. WITH
/// SAVEPOINT).
#[derive(Clone)]
pub struct Savepointer(mpsc::Sender<SavepointRequest>);

impl Savepointer {
    /// Takes a savepoint: every operator's state, every source's position,
    /// consistent with each other. Returns its directory.
    pub async fn savepoint(&self) -> Result<std::path::PathBuf> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let gone = || EngineError::State("the job is no longer running".into());
        self.0.send(tx).await.map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }
}

/// Stops a running job from elsewhere (Ctrl-C, STOP JOB).
#[derive(Clone)]
pub struct JobCanceller(watch::Sender<bool>);

impl JobCanceller {
    /// Asks the job to stop; its `wait` returns [`EngineError::Cancelled`].
    pub fn cancel(&self) {
        let _ = self.0.send(true);
    }
}

impl JobHandle {
    /// The job's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The job's live counters.
    pub fn metrics(&self) -> &JobMetrics {
        &self.metrics
    }

    /// A handle that cancels this job.
    pub fn canceller(&self) -> JobCanceller {
        JobCanceller(self.cancel_tx.clone())
    }

    /// A handle that takes savepoints of this job; `None` when the job
    /// does not checkpoint (no `execution.checkpointing.dir`).
    pub fn savepointer(&self) -> Option<Savepointer> {
        self.savepoints.clone().map(Savepointer)
    }

    /// Waits until every subtask finished; the first error stops the others.
    pub async fn wait(mut self) -> Result<JobStats> {
        let mut cancel_rx = self.cancel_tx.subscribe();
        loop {
            tokio::select! {
                next = self.tasks.join_next() => match next {
                    None => {
                        if let Some(dir) = &self.checkpoint_dir {
                            // A finished job is not resumed: a new run starts over.
                            crate::checkpoint::store::discard_checkpoints(dir)?;
                        }
                        let mut stats = self.metrics.stats();
                        stats.late_table = self.late_table.clone();
                        return Ok(stats);
                    }
                    Some(Ok(Ok(()))) => {}
                    Some(Ok(Err(e))) => {
                        self.tasks.abort_all();
                        return Err(e);
                    }
                    Some(Err(join)) => {
                        self.tasks.abort_all();
                        return Err(EngineError::Internal(format!("a subtask failed: {join}")));
                    }
                },
                changed = cancel_rx.changed() => {
                    if changed.is_ok() && *cancel_rx.borrow() {
                        self.tasks.abort_all();
                        return Err(EngineError::Cancelled);
                    }
                }
            }
        }
    }
}

/// One operator of a chain in a task.
struct Stage {
    op: Box<dyn Operator>,
    ctx: Context,
}

/// A step pushed through a chain.
enum Step {
    Batch(usize, ChangeBatch),
    Watermark(i64),
    /// The wall clock (ms); every stage sees it.
    ProcessingTime(i64),
    Close,
}

/// Pushes `step` through the stages, each stage's output feeding the next and
/// the last stage's going to `output`.
async fn drive(stages: &mut [Stage], step: Step, output: &mut Output) -> Result<()> {
    if stages.is_empty() {
        // A source whose consumers all sit behind an exchange.
        return match step {
            Step::Batch(_, batch) => output.emit(batch).await,
            Step::Watermark(w) => output.emit_watermark(w).await,
            Step::ProcessingTime(_) | Step::Close => Ok(()),
        };
    }
    let mut steps = vec![step];
    let last = stages.len().saturating_sub(1);
    for (k, stage) in stages.iter_mut().enumerate() {
        let mut buffer = BufferEmitter {
            keep_late_rows: output.wants_late_rows(),
            ..BufferEmitter::default()
        };
        let before = output.rows_out;
        let emitter: &mut dyn Emitter = if k == last { output } else { &mut buffer };
        let mut closed = false;
        let mut clock = None;
        for step in steps.drain(..) {
            match step {
                Step::Batch(input, batch) => {
                    stage
                        .ctx
                        .metrics
                        .rows_in
                        .fetch_add(batch.num_rows() as u64, RELAXED);
                    stage
                        .op
                        .process(input, batch, &mut stage.ctx, emitter)
                        .await?;
                }
                Step::Watermark(w) => {
                    stage.ctx.metrics.watermark.store(w, RELAXED);
                    stage.op.on_watermark(w, &mut stage.ctx, emitter).await?;
                }
                Step::ProcessingTime(now) => {
                    stage
                        .op
                        .on_processing_time(now, &mut stage.ctx, emitter)
                        .await?;
                    clock = Some(now);
                }
                Step::Close => {
                    stage.op.close(&mut stage.ctx, emitter).await?;
                    closed = true;
                }
            }
        }
        if k == last {
            stage
                .ctx
                .metrics
                .rows_out
                .fetch_add(output.rows_out - before, RELAXED);
            break;
        }
        for ev in buffer.events {
            steps.push(match ev {
                Emitted::Batch(b) => {
                    stage
                        .ctx
                        .metrics
                        .rows_out
                        .fetch_add(b.num_rows() as u64, RELAXED);
                    Step::Batch(0, b)
                }
                Emitted::Watermark(w) => Step::Watermark(w),
                Emitted::LateRows(rows) => {
                    output.emit_late_rows(rows).await?;
                    continue;
                }
            });
        }
        if let Some(now) = clock {
            steps.push(Step::ProcessingTime(now));
        }
        if closed {
            steps.push(Step::Close);
        }
        if steps.is_empty() {
            break;
        }
    }
    Ok(())
}

const RELAXED: std::sync::atomic::Ordering = std::sync::atomic::Ordering::Relaxed;

/// Waits for the next value of a checkpoint channel; forever without one.
async fn next_checkpoint(rx: Option<&mut watch::Receiver<u64>>) -> u64 {
    if let Some(rx) = rx
        && rx.changed().await.is_ok()
    {
        return *rx.borrow_and_update();
    }
    std::future::pending().await
}

/// Tells every stage that checkpoint `id` is complete.
async fn commit(stages: &mut [Stage], id: u64) -> Result<()> {
    for s in stages.iter_mut() {
        s.op.on_checkpoint_complete(id, &mut s.ctx).await?;
    }
    Ok(())
}

/// Snapshots every stage, passes the barrier on, and acknowledges.
async fn checkpoint(
    stages: &mut [Stage],
    output: &mut Output,
    id: u64,
    link: Option<&TaskLink>,
) -> Result<()> {
    for s in stages.iter_mut() {
        s.op.snapshot(id, &mut s.ctx).await?;
    }
    output.broadcast(Message::Barrier(id)).await?;
    if let Some(link) = link {
        link.ack(id);
    }
    Ok(())
}

/// Snapshots every stage of a task that read all its input, for the
/// checkpoints taken after it ended; returns their state keys.
async fn final_snapshot(stages: &mut [Stage]) -> Result<Vec<crate::state::StateKey>> {
    let mut keys = vec![];
    for s in stages.iter_mut() {
        s.op.snapshot(FINAL_CHECKPOINT, &mut s.ctx).await?;
        keys.push(s.ctx.state_key());
    }
    Ok(keys)
}

/// Tells the coordinator a task finished with its final state under
/// `keys`. When a stage commits part of that state once a checkpoint holds
/// it (a transactional sink), waits for one and lets the stages commit.
async fn report_finished(
    link: TaskLink,
    keys: Vec<crate::state::StateKey>,
    stages: &mut [Stage],
) -> Result<()> {
    if !stages.iter().any(|s| s.op.awaits_final_commit()) {
        link.finish(keys);
        return Ok(());
    }
    match link.finish_and_await_commit(keys).await {
        Some(id) => commit(stages, id).await,
        // The job stopped: a restore commits what a complete checkpoint holds.
        None => Ok(()),
    }
}

struct SourceTask {
    source: Box<dyn Source>,
    ctx: Context,
    prelude: Option<Arc<ScanPrelude>>,
    stages: Vec<Stage>,
    output: Output,
    cancel: watch::Receiver<bool>,
    link: Option<TaskLink>,
}

async fn run_source_task(task: SourceTask) -> Result<()> {
    let SourceTask {
        mut source,
        mut ctx,
        prelude,
        mut stages,
        mut output,
        mut cancel,
        mut link,
    } = task;
    source.open(&mut ctx).await?;
    for s in stages.iter_mut() {
        s.op.open(&mut s.ctx).await?;
    }
    let (mut trigger, mut complete) = match link.as_ref() {
        Some(l) => (Some(l.trigger.clone()), Some(l.complete.clone())),
        None => (None, None),
    };
    let mut splits = SplitWatermarks::default();
    loop {
        // `next` is cancel-safe (the Source contract): a checkpoint may
        // interrupt its wait.
        let event = tokio::select! {
            ev = source.next(&mut ctx) => ev?,
            id = next_checkpoint(trigger.as_mut()) => {
                source.snapshot(id, &mut ctx).await?;
                checkpoint(&mut stages, &mut output, id, link.as_ref()).await?;
                continue;
            }
            id = next_checkpoint(complete.as_mut()) => {
                source.on_checkpoint_complete(id, &mut ctx).await?;
                commit(&mut stages, id).await?;
                continue;
            }
            _ = cancel.changed() => return Err(EngineError::Cancelled),
        };
        let watermark = match event {
            SourceEvent::Batch { split, batch } => {
                ctx.metrics
                    .rows_out
                    .fetch_add(batch.num_rows() as u64, RELAXED);
                let (batch, wm) = match &prelude {
                    Some(p) => {
                        let batch = p.project(batch)?;
                        let wm = p.batch_watermark(&batch.data)?;
                        (batch, wm)
                    }
                    None => (batch, None),
                };
                if batch.num_rows() > 0 {
                    drive(&mut stages, Step::Batch(0, batch), &mut output).await?;
                }
                splits.observe(split, wm)
            }
            SourceEvent::SplitStart(split) => {
                splits.start_split(split);
                None
            }
            SourceEvent::SplitEnd(split) => splits.end_split(split),
            SourceEvent::SplitIdle(split) => splits.idle_split(split),
            SourceEvent::End => {
                finish(&mut stages, &mut output, MIN_WATERMARK).await?;
                if let Some(link) = link.take() {
                    source.snapshot(FINAL_CHECKPOINT, &mut ctx).await?;
                    let mut keys = vec![ctx.state_key()];
                    keys.extend(final_snapshot(&mut stages).await?);
                    report_finished(link, keys, &mut stages).await?;
                }
                return Ok(());
            }
        };
        if let Some(w) = watermark {
            drive(&mut stages, Step::Watermark(w), &mut output).await?;
        }
    }
}

/// The end of all input: a final watermark, then close every stage in order.
async fn finish(stages: &mut [Stage], output: &mut Output, watermark: i64) -> Result<()> {
    if watermark < MAX_WATERMARK {
        drive(stages, Step::Watermark(MAX_WATERMARK), output).await?;
    }
    drive(stages, Step::Close, output).await?;
    output.broadcast(Message::End).await
}

async fn run_operator_task(
    mut gate: InputGate,
    mut stages: Vec<Stage>,
    mut output: Output,
    link: Option<TaskLink>,
) -> Result<()> {
    let mut complete = link.as_ref().map(|l| l.complete.clone());
    for s in stages.iter_mut() {
        s.op.open(&mut s.ctx).await?;
    }
    let mut watermark = MIN_WATERMARK;
    // Processing-time timers, if a stage wants them.
    let mut timer = stages
        .iter()
        .filter_map(|s| s.op.processing_timer())
        .min()
        .map(|every| {
            let mut t = tokio::time::interval(every);
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            t
        });
    loop {
        // The gate's wait is cancel-safe: a tick loses no message.
        let event = tokio::select! {
            ev = gate.next() => ev?,
            _ = next_tick(&mut timer) => {
                let now = chrono::Utc::now().timestamp_millis();
                drive(&mut stages, Step::ProcessingTime(now), &mut output).await?;
                continue;
            }
            id = next_checkpoint(complete.as_mut()) => {
                commit(&mut stages, id).await?;
                continue;
            }
        };
        let Some(event) = event else {
            break;
        };
        match event {
            GateEvent::Batch { input, batch } => {
                drive(&mut stages, Step::Batch(input, batch), &mut output).await?
            }
            GateEvent::Watermark(w) => {
                watermark = w;
                drive(&mut stages, Step::Watermark(w), &mut output).await?
            }
            GateEvent::Barrier(id) => {
                checkpoint(&mut stages, &mut output, id, link.as_ref()).await?;
            }
            GateEvent::End => {
                finish(&mut stages, &mut output, watermark).await?;
                if let Some(link) = link {
                    let keys = final_snapshot(&mut stages).await?;
                    report_finished(link, keys, &mut stages).await?;
                }
                break;
            }
        }
    }
    Ok(())
}

/// Waits for the next processing-time tick; forever without a timer.
async fn next_tick(timer: &mut Option<tokio::time::Interval>) {
    match timer {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// The nodes run by one task: a head and the nodes chained to it.
struct Chain {
    nodes: Vec<NodeId>,
}

fn chains(graph: &JobGraph) -> (Vec<Chain>, HashMap<NodeId, usize>) {
    let mut chains: Vec<Chain> = vec![];
    let mut chain_of: HashMap<NodeId, usize> = HashMap::new();
    for n in &graph.nodes {
        if graph.is_chained(n.id) {
            let c = chain_of[&n.inputs[0].from];
            chains[c].nodes.push(n.id);
            chain_of.insert(n.id, c);
        } else {
            chain_of.insert(n.id, chains.len());
            chains.push(Chain { nodes: vec![n.id] });
        }
    }
    (chains, chain_of)
}

/// Starts every subtask of `graph` and returns at once.
pub fn spawn(graph: &JobGraph) -> Result<JobHandle> {
    let (chains, chain_of) = chains(graph);
    let metrics = JobMetrics::default();
    let (cancel_tx, _) = watch::channel(false);
    let checkpointing = match &graph.checkpointing {
        Some(config) => Some(Checkpointing::new(graph, config, metrics.checkpoints())?),
        None => None,
    };
    let store = checkpointing
        .as_ref()
        .map(|c| c.store.clone() as Arc<dyn crate::state::SnapshotStore>);
    let mut task_count = 0;

    // Inboxes of chain heads that have inputs, and the channel numbering:
    // channel (edge index of the head, upstream subtask) -> index.
    let mut inboxes: HashMap<(NodeId, usize), mpsc::Sender<_>> = HashMap::new();
    let mut receivers: HashMap<(NodeId, usize), (mpsc::Receiver<_>, Vec<usize>)> = HashMap::new();
    let mut channel_index: HashMap<(NodeId, usize, usize, usize), usize> = HashMap::new();
    for chain in &chains {
        let head = &graph.nodes[chain.nodes[0]];
        if head.inputs.is_empty() {
            continue;
        }
        for j in 0..head.parallelism {
            let mut inputs = vec![];
            for (e_idx, e) in head.inputs.iter().enumerate() {
                let up = graph.nodes[e.from].parallelism;
                for u in 0..up {
                    if e.partitioning == Partitioning::Forward && u != j {
                        continue;
                    }
                    channel_index.insert((head.id, j, e_idx, u), inputs.len());
                    inputs.push(e.input);
                }
            }
            let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY * inputs.len().max(1));
            inboxes.insert((head.id, j), tx);
            receivers.insert((head.id, j), (rx, inputs));
        }
    }

    let mut tasks = JoinSet::new();
    for chain in &chains {
        let head = &graph.nodes[chain.nodes[0]];
        for i in 0..head.parallelism {
            let output = output_of(graph, chain, i, &chain_of, &inboxes, &channel_index);
            let stages_from = if head.inputs.is_empty() { 1 } else { 0 };
            let stages = chain.nodes[stages_from..]
                .iter()
                .map(|id| {
                    let node = &graph.nodes[*id];
                    let info = subtask_info(graph, *id, &node.name(), i, node.parallelism);
                    let NodeKind::Operator(f) = &node.kind else {
                        return Err(EngineError::Internal(
                            "a source chained after a node".into(),
                        ));
                    };
                    Ok(Stage {
                        op: f.create(&info)?,
                        ctx: Context {
                            metrics: metrics.register(&info.operator_name),
                            subtask: info,
                            state: store.clone(),
                        },
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let link = checkpointing.as_ref().map(|c| c.link(task_count));
            task_count += 1;
            match &head.kind {
                NodeKind::Source { factory, prelude } => {
                    let name = format!("Source: {}", factory.name());
                    let info = subtask_info(graph, head.id, &name, i, head.parallelism);
                    let source = factory.create(&info)?;
                    let ctx = Context {
                        metrics: metrics.register(&name),
                        subtask: info,
                        state: store.clone(),
                    };
                    tasks.spawn(run_source_task(SourceTask {
                        source,
                        ctx,
                        prelude: prelude.clone(),
                        stages,
                        output,
                        cancel: cancel_tx.subscribe(),
                        link,
                    }));
                }
                NodeKind::Operator(_) => {
                    let Some((rx, inputs)) = receivers.remove(&(head.id, i)) else {
                        return Err(EngineError::Internal("missing inbox".into()));
                    };
                    tasks.spawn(run_operator_task(
                        InputGate::new(rx, inputs).with_idle_timeout(graph.idle_timeout),
                        stages,
                        output,
                        link,
                    ));
                }
            }
        }
    }
    let mut savepoints = None;
    let mut checkpoint_dir = None;
    if let Some(c) = checkpointing {
        let (tx, rx) = mpsc::channel(4);
        savepoints = Some(tx);
        checkpoint_dir = Some(c.store.job_dir().to_path_buf());
        tasks.spawn(c.run(task_count, rx));
    }
    Ok(JobHandle {
        name: graph.name.clone(),
        late_table: graph.late_rows.as_ref().map(|l| l.table.clone()),
        tasks,
        metrics,
        cancel_tx,
        savepoints,
        checkpoint_dir,
    })
}

fn subtask_info(
    graph: &JobGraph,
    node: NodeId,
    name: &str,
    index: usize,
    parallelism: usize,
) -> SubtaskInfo {
    SubtaskInfo {
        operator_id: format!("node-{node}"),
        job_name: graph.name.clone(),
        operator_name: name.to_string(),
        index,
        parallelism,
        state_backend: graph.state_backend.clone(),
    }
}

/// The outgoing edges of subtask `i` of a chain: those of its last node,
/// and those of any of its nodes to the late-row sink.
fn output_of(
    graph: &JobGraph,
    chain: &Chain,
    i: usize,
    chain_of: &HashMap<NodeId, usize>,
    inboxes: &HashMap<(NodeId, usize), mpsc::Sender<crate::exchange::Envelope>>,
    channel_index: &HashMap<(NodeId, usize, usize, usize), usize>,
) -> Output {
    let mut output = Output::default();
    let edges_to = |c: NodeId, from: NodeId| -> Vec<OutEdge> {
        let consumer = &graph.nodes[c];
        let mut edges = vec![];
        for (e_idx, e) in consumer.inputs.iter().enumerate() {
            if e.from != from {
                continue;
            }
            let targets = (0..consumer.parallelism)
                .filter_map(|j| {
                    let channel = *channel_index.get(&(c, j, e_idx, i))?;
                    let tx = inboxes.get(&(c, j))?.clone();
                    Some(Target { tx, channel })
                })
                .collect();
            edges.push(OutEdge::new(e.partitioning.clone(), targets));
        }
        edges
    };
    let Some(&tail) = chain.nodes.last() else {
        return output;
    };
    for c in graph.consumers(tail) {
        if chain_of.get(&c) != chain_of.get(&tail) {
            output.edges.extend(edges_to(c, tail));
        }
    }
    if let Some(sink) = graph.late_rows_sink() {
        for n in &chain.nodes {
            output.late_edges.extend(edges_to(sink, *n));
        }
    }
    output
}

#[cfg(test)]
mod tests;
