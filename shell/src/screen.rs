//! The full-screen view of the `table` result mode, on a terminal: the
//! materialized result fills the screen (the alternate screen, so the
//! shell's scrollback stays as it was), redrawn as changes arrive and every
//! 250 ms, with a status line at the bottom. Up/Down, PgUp/PgDn, Home/End
//! scroll; `q`, Esc or Ctrl-C leaves (stopping the query if it still runs).
//! When the query ends the view stays until it is left, as Flink's does.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use crossterm::{cursor, execute, queue, terminal};
use eddy::ChangeBatch;
use eddy::EngineError;
use eddy::job::JobHandle;
use tokio::sync::mpsc;

use super::results::{Materialized, cells};

/// What a key asks of the view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Up(usize),
    Down(usize),
    Top,
    Bottom,
    Quit,
    None,
}

fn action(key: KeyEvent, page: usize) -> Action {
    if key.kind == KeyEventKind::Release {
        return Action::None;
    }
    match key.code {
        KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => Action::Quit,
        KeyCode::Char('q' | 'Q') | KeyCode::Esc => Action::Quit,
        KeyCode::Up | KeyCode::Char('k') => Action::Up(1),
        KeyCode::Down | KeyCode::Char('j') => Action::Down(1),
        KeyCode::PageUp => Action::Up(page),
        KeyCode::PageDown | KeyCode::Char(' ') => Action::Down(page),
        KeyCode::Home | KeyCode::Char('g') => Action::Top,
        KeyCode::End | KeyCode::Char('G') => Action::Bottom,
        _ => Action::None,
    }
}

/// The first row shown, after `action`, for `total` rows and `page` rows
/// on the screen.
fn scroll(offset: usize, action: Action, total: usize, page: usize) -> usize {
    let last = total.saturating_sub(page);
    match action {
        Action::Up(n) => offset.saturating_sub(n),
        Action::Down(n) => (offset + n).min(last),
        Action::Top => 0,
        Action::Bottom => last,
        Action::Quit | Action::None => offset.min(last),
    }
}

/// The lines of one screen: the table of rows `offset..offset + page`
/// (borders and header included), each cut to `width` characters.
fn page_lines(
    header: &[String],
    rows: &[&Vec<String>],
    offset: usize,
    page: usize,
    width: usize,
) -> Vec<String> {
    let shown: Vec<Vec<String>> = rows
        .iter()
        .skip(offset)
        .take(page)
        .map(|r| (*r).clone())
        .collect();
    let text = crate::script::render_table(header, &shown);
    // render_table ends with "N rows in set"; the status line says more.
    let lines: Vec<&str> = text.lines().collect();
    lines[..lines.len().saturating_sub(1)]
        .iter()
        .map(|l| l.chars().take(width).collect())
        .collect()
}

/// The terminal's columns and rows; 80 by 24 where it does not say (a
/// pseudo-terminal nobody sized).
fn screen_size() -> (u16, u16) {
    terminal::size()
        .ok()
        .filter(|(w, h)| *w > 0 && *h > 0)
        .unwrap_or((80, 24))
}

/// Restores the terminal however the view ends.
struct Screen;

impl Screen {
    fn enter() -> std::io::Result<Screen> {
        terminal::enable_raw_mode()?;
        let screen = Screen;
        execute!(
            std::io::stdout(),
            terminal::EnterAlternateScreen,
            cursor::Hide
        )?;
        Ok(screen)
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = execute!(
            std::io::stdout(),
            cursor::Show,
            terminal::LeaveAlternateScreen
        );
        let _ = terminal::disable_raw_mode();
    }
}

/// Keys read on a thread of their own (reading blocks), until `stop`.
fn read_keys(stop: Arc<AtomicBool>) -> mpsc::Receiver<KeyEvent> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            match event::poll(Duration::from_millis(50)) {
                Ok(true) => {
                    if let Ok(Event::Key(k)) = event::read()
                        && tx.blocking_send(k).is_err()
                    {
                        return;
                    }
                }
                Ok(false) => {}
                Err(_) => return,
            }
        }
    });
    rx
}

/// Shows the changes `rx` receives from `job` full-screen; `status` gives
/// the status line for the number of changes received.
pub async fn show(
    job: JobHandle,
    mut rx: mpsc::Receiver<ChangeBatch>,
    status: impl Fn(u64) -> String,
) -> Result<(), String> {
    let canceller = job.canceller();
    let started = Instant::now();
    let mut waiting = Some(Box::pin(job.wait()));
    let mut outcome = None;
    let screen = Screen::enter().map_err(|e| format!("[ERROR] terminal: {e}"))?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut keys = read_keys(stop.clone());
    let mut table = Materialized::default();
    let mut header: Vec<String> = vec![];
    let mut received = 0u64;
    let mut offset = 0usize;
    let mut open = true;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut out = std::io::stdout();
    let (mut width, mut height) = screen_size();
    loop {
        // Borders and header take 3 lines, the bottom border and the
        // status line 2.
        let page = (height as usize).saturating_sub(5).max(1);
        tokio::select! {
            batch = rx.recv(), if open => match batch {
                Some(batch) => {
                    if header.is_empty() {
                        header = batch.data.schema().fields().iter().map(|f| f.name().clone()).collect();
                    }
                    for row in 0..batch.num_rows() {
                        table.apply(batch.kind(row), cells(&batch, row));
                    }
                    received += batch.num_rows() as u64;
                    continue;
                }
                None => open = false,
            },
            ended = async { waiting.as_mut().expect("polled while set").await }, if waiting.is_some() && !open => {
                waiting = None;
                outcome = Some(ended);
            }
            key = keys.recv() => {
                let Some(key) = key else { break };
                let rows = table.current().len();
                match action(key, page) {
                    Action::Quit => break,
                    a => offset = scroll(offset, a, rows, page),
                }
            }
            _ = tick.tick() => (width, height) = screen_size(),
        }
        let current = table.current();
        offset = scroll(offset, Action::None, current.len(), page);
        let mut lines = if header.is_empty() {
            vec!["(waiting for the first change)".to_string()]
        } else {
            page_lines(&header, &current, offset, page, width as usize)
        };
        let state = match &outcome {
            None => "running",
            Some(Ok(_)) => "finished",
            Some(Err(_)) => "failed",
        };
        let shown = if current.is_empty() {
            "no rows".to_string()
        } else {
            format!(
                "rows {}-{} of {}",
                offset + 1,
                (offset + page).min(current.len()),
                current.len()
            )
        };
        lines.resize(height.saturating_sub(1) as usize, String::new());
        // What matters most first: the line is cut to the screen's width.
        let bar = format!(
            "{state} · {shown} · {} · q: quit, ↑↓ PgUp PgDn Home End: scroll",
            status(received)
        );
        let _ = queue!(out, cursor::MoveTo(0, 0));
        for (y, line) in lines.iter().enumerate() {
            let _ = queue!(
                out,
                cursor::MoveTo(0, y as u16),
                terminal::Clear(terminal::ClearType::CurrentLine)
            );
            let _ = write!(out, "{line}");
        }
        let _ = queue!(
            out,
            cursor::MoveTo(0, height.saturating_sub(1)),
            terminal::Clear(terminal::ClearType::CurrentLine)
        );
        let _ = write!(
            out,
            "{}",
            bar.chars().take(width as usize).collect::<String>()
        );
        let _ = out.flush();
    }
    stop.store(true, Ordering::Relaxed);
    drop(screen);
    let rows = table.current().len();
    let outcome = match outcome {
        Some(o) => o,
        None => {
            canceller.cancel();
            match waiting {
                Some(w) => w.await,
                None => Err(EngineError::Cancelled),
            }
        }
    };
    println!(
        "[INFO] Result: {rows} row{} after {received} change{} in {:.1} s.",
        if rows == 1 { "" } else { "s" },
        if received == 1 { "" } else { "s" },
        started.elapsed().as_secs_f64()
    );
    match outcome {
        Ok(_) | Err(EngineError::Cancelled) => Ok(()),
        Err(e) => Err(format!(
            "[ERROR] Could not execute SQL statement. Reason:\n{e}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrolling_stays_within_the_rows() {
        let page = 10;
        assert_eq!(scroll(0, Action::Up(1), 100, page), 0);
        assert_eq!(scroll(0, Action::Down(page), 100, page), 10);
        assert_eq!(scroll(85, Action::Down(page), 100, page), 90);
        assert_eq!(scroll(50, Action::Bottom, 100, page), 90);
        assert_eq!(scroll(50, Action::Top, 100, page), 0);
        // The result shrank under the view.
        assert_eq!(scroll(90, Action::None, 20, page), 10);
        assert_eq!(scroll(3, Action::None, 5, page), 0);
    }

    #[test]
    fn keys_scroll_and_quit() {
        let key = |code| KeyEvent::new(code, KeyModifiers::NONE);
        assert_eq!(action(key(KeyCode::PageDown), 20), Action::Down(20));
        assert_eq!(action(key(KeyCode::Char('q')), 20), Action::Quit);
        assert_eq!(
            action(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL), 20),
            Action::Quit
        );
    }

    #[test]
    fn a_page_shows_its_rows_cut_to_the_width() {
        let header = vec!["k".to_string(), "n".to_string()];
        let rows: Vec<Vec<String>> = (0..5)
            .map(|i| vec![format!("key-{i}"), i.to_string()])
            .collect();
        let refs: Vec<&Vec<String>> = rows.iter().collect();
        let lines = page_lines(&header, &refs, 2, 2, 12);
        assert_eq!(
            lines,
            vec![
                "+-------+---",
                "|     k | n ",
                "+-------+---",
                "| key-2 | 2 ",
                "| key-3 | 3 ",
                "+-------+---",
            ]
        );
    }
}
