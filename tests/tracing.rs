//! corepool's tracing: a `corepool.job` span per job with its labels, and
//! events when workers start and stop. Its own test binary, because it
//! installs the process-wide subscriber (spans are made on worker threads).

mod common;

use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::Attributes;
use tracing::{Event, Id, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// A span's name and its fields, as `(name, debug value)` pairs: those
/// given when it was made, then those recorded later.
type SpanRecord = (String, Vec<(String, String)>);

/// A span's id, its record, and its parent's name.
type SpanEntry = (u64, SpanRecord, Option<String>);

#[derive(Clone, Default)]
struct Recorded {
    /// By span id (ids are not reused while these spans are alive here).
    spans: Arc<Mutex<Vec<SpanEntry>>>,
    events: Arc<Mutex<Vec<String>>>,
}

#[derive(Default)]
struct Fields(Vec<(String, String)>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
}

impl<S> Layer<S> for Recorded
where
    S: Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        let parent = ctx
            .span(id)
            .and_then(|span| span.parent())
            .map(|parent| parent.name().to_owned());
        self.spans.lock().unwrap().push((
            id.into_u64(),
            (attrs.metadata().name().to_owned(), fields.0),
            parent,
        ));
    }

    fn on_record(&self, id: &Id, values: &tracing::span::Record<'_>, _: Context<'_, S>) {
        let mut fields = Fields::default();
        values.record(&mut fields);
        let mut spans = self.spans.lock().unwrap();
        if let Some((_, (_, known), _)) =
            spans.iter_mut().rev().find(|(i, _, _)| *i == id.into_u64())
        {
            known.extend(fields.0);
        }
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        if let Some((_, message)) = fields.0.iter().find(|(name, _)| name == "message") {
            self.events.lock().unwrap().push(message.clone());
        }
    }
}

#[test]
fn jobs_run_in_labelled_spans_and_workers_report_start_and_stop() {
    let recorded = Recorded::default();
    let subscriber = tracing_subscriber::registry().with(recorded.clone());
    tracing::subscriber::set_global_default(subscriber).unwrap();

    common::within(move || {
        let pool = corepool::Pool::new(2).unwrap();
        // Submitted inside a request's span: the jobs' spans are its children.
        let request = tracing::info_span!("request");
        request.in_scope(|| {
            pool.apply(|| ()).unwrap();
            pool.run(corepool::Map::new(|x: u8| x, 0..4).chunksize(2))
                .unwrap();
        });
        pool.close();
        pool.join().unwrap();

        let all = recorded.spans.lock().unwrap().clone();
        let spans: Vec<SpanRecord> = all.iter().map(|(_, span, _)| span.clone()).collect();
        let jobs: Vec<_> = spans
            .iter()
            .filter(|(name, _)| name == "corepool.job")
            .collect();
        let parents: Vec<_> = all
            .iter()
            .filter(|(_, (name, _), _)| name == "corepool.job")
            .map(|(_, _, parent)| parent.clone())
            .collect();
        assert!(
            parents.iter().all(|p| p.as_deref() == Some("request")),
            "every job span is a child of the submitting request's span: {parents:?}"
        );
        assert_eq!(
            jobs.len(),
            3,
            "one span per job (1 apply + 2 map chunks): {spans:?}"
        );
        let field = |fields: &[(String, String)], name: &str| {
            fields
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let kinds: Vec<String> = jobs.iter().map(|(_, f)| field(f, "kind")).collect();
        assert_eq!(
            kinds.iter().filter(|k| k.as_str() == "\"apply\"").count(),
            1,
            "{kinds:?}"
        );
        assert_eq!(
            kinds.iter().filter(|k| k.as_str() == "\"map\"").count(),
            2,
            "{kinds:?}"
        );
        for (_, fields) in &jobs {
            for name in [
                "id",
                "chunk",
                "worker",
                "generation",
                "inline",
                "queued_us",
                "run_us",
            ] {
                assert!(
                    !field(fields, name).is_empty(),
                    "span lacks `{name}`: {fields:?}"
                );
            }
        }
        let events = recorded.events.lock().unwrap().clone();
        assert_eq!(
            events
                .iter()
                .filter(|e| e.as_str() == "worker started")
                .count(),
            2,
            "{events:?}"
        );
        assert_eq!(
            events
                .iter()
                .filter(|e| e.as_str() == "worker stopped")
                .count(),
            2,
            "{events:?}"
        );
    });
}
