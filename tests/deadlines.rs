//! Deadlines and admission by queue wait: a job past its deadline never
//! runs and says why; a running one sees `is_cancelled` at its deadline;
//! the pool refuses work while its queue's wait is above the target.

use crate::common;

use std::time::{Duration, Instant};

use common::{Counter, LIMIT, occupy, on_tokio, within};
use corepool::{Apply, Cancellation, Map, Pool, ReserveError, SubmitError};

fn one_worker() -> Pool {
    Pool::new(1).unwrap()
}

#[test]
fn a_job_whose_deadline_passes_in_the_queue_never_runs() {
    within(|| {
        let pool = one_worker();
        let busy = occupy(&pool, 1);
        let ran = Counter::new();
        let r = ran.clone();
        let deadline = Instant::now() + Duration::from_millis(20);
        let mut late = pool.spawn(Apply::new(move || r.bump()).deadline(deadline));
        std::thread::sleep(Duration::from_millis(40));
        busy.release();
        let err = late.get().unwrap_err();
        assert_eq!(err.cancellation(), Some(Cancellation::DeadlineExpired));
        assert!(err.to_string().contains("deadline"), "{err}");
        assert_eq!(ran.get(), 0, "it never ran");
        let m = pool.metrics();
        assert_eq!((m.cancelled, m.completed), (1, 1));
    });
}

#[test]
fn a_running_job_sees_its_deadline_through_is_cancelled() {
    within(|| {
        let pool = one_worker();
        let deadline = Instant::now() + Duration::from_millis(30);
        let work = Apply::new(move || {
            while corepool::cancellation().is_none() {
                std::thread::sleep(Duration::from_millis(1));
            }
            (corepool::cancellation(), Instant::now() >= deadline)
        });
        let err = pool.run(work.deadline(deadline)).unwrap_err();
        // It saw why, and resolved as cancelled for that reason.
        assert_eq!(err.cancellation(), Some(Cancellation::DeadlineExpired));
    });
}

#[test]
fn a_deadline_that_is_not_reached_changes_nothing() {
    within(|| {
        let pool = one_worker();
        let far = Instant::now() + LIMIT;
        let seen = pool.run(Apply::new(corepool::is_cancelled).deadline(far));
        assert!(!seen.unwrap());
        assert_eq!(
            pool.run(Map::new(|x: u8| x, 0..10).deadline(far))
                .unwrap()
                .len(),
            10
        );
    });
}

#[test]
fn a_map_past_its_deadline_runs_no_chunk() {
    within(|| {
        let pool = Pool::new(2).unwrap();
        let busy = occupy(&pool, 2);
        let ran = Counter::new();
        let r = ran.clone();
        let map = Map::new(move |_: u32| r.bump(), 0..100).chunksize(10);
        let mut late = pool.spawn(map.deadline(Instant::now() + Duration::from_millis(10)));
        std::thread::sleep(Duration::from_millis(30));
        busy.release();
        let err = late.get().unwrap_err();
        assert_eq!(err.cancellation(), Some(Cancellation::DeadlineExpired));
        assert_eq!(ran.get(), 0);
    });
}

#[test]
fn max_queue_wait_drops_stale_jobs_and_runs_fresh_ones() {
    within(|| {
        let pool = Pool::builder()
            .workers(1)
            .max_queue_wait(Duration::from_millis(20))
            .build()
            .unwrap();
        let busy = occupy(&pool, 1);
        let ran = Counter::new();
        let r = ran.clone();
        let mut stale = pool.apply_async(move || r.bump());
        std::thread::sleep(Duration::from_millis(40));
        busy.release();
        let err = stale.get().unwrap_err();
        assert_eq!(err.cancellation(), Some(Cancellation::DeadlineExpired));
        assert_eq!(ran.get(), 0);
        // A job that does not wait long runs as usual.
        assert_eq!(pool.apply(|| 7).unwrap(), 7);
    });
}

#[test]
fn zero_waits_are_build_errors() {
    let err = Pool::builder()
        .max_queue_wait(Duration::ZERO)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("max_queue_wait"), "{err}");
    let err = Pool::builder()
        .queue_wait_target(Duration::ZERO)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("queue_wait_target"), "{err}");
}

/// A pool of one worker with a 10 ms wait target that has measured jobs
/// of at least 20 ms, its worker held busy: a new job behind one queued job
/// can expect 20 ms or more.
fn measured_and_busy() -> (Pool, common::Occupied) {
    let pool = Pool::builder()
        .workers(1)
        .queue_wait_target(Duration::from_millis(10))
        .build()
        .unwrap();
    for _ in 0..3 {
        pool.apply(|| std::thread::sleep(Duration::from_millis(20)))
            .unwrap();
    }
    let busy = occupy(&pool, 1);
    (pool, busy)
}

#[test]
fn work_is_refused_while_the_expected_wait_is_above_the_target() {
    within(|| {
        let (pool, busy) = measured_and_busy();
        // The queue is empty: a new job can expect no wait.
        let mut c = pool.offer(|| "c").unwrap();
        // One queued job of ~20 ms ahead, on one worker: above 10 ms.
        match pool.offer(|| "d") {
            Err(SubmitError::Full(work)) => assert_eq!(work(), "d"),
            other => panic!("expected Full, got {other:?}"),
        }
        assert_eq!(pool.try_reserve().unwrap_err(), ReserveError::Full);
        let mut shed = pool.spawn(|| "e");
        let shed = shed.get().unwrap_err();
        assert_eq!(shed.cancellation(), Some(Cancellation::QueueFull));
        // The offer and the spawn; a refused reservation is not a job.
        assert_eq!(pool.metrics().rejected, 2);
        busy.release();
        assert_eq!(c.get().unwrap(), "c");
        // The queue is empty again: admission opens.
        assert_eq!(pool.offer(|| "f").unwrap().get().unwrap(), "f");
    });
}

#[test]
fn a_submitter_waiting_for_the_target_gets_in_when_the_queue_moves() {
    on_tokio(|| async {
        let (pool, busy) = measured_and_busy();
        let c = pool.offer(|| 3).unwrap();
        assert!(pool.try_reserve().is_err(), "over the target");
        let waiting = tokio::spawn({
            let pool = pool.clone();
            async move { pool.submit(|| 4).await.unwrap().await.unwrap() }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "held back while over the target");
        busy.release();
        assert_eq!(waiting.await.unwrap(), 4);
        assert_eq!(c.await.unwrap(), 3);
    });
}

#[test]
fn jobs_skipped_unrun_do_not_lower_the_expected_wait() {
    within(|| {
        let pool = Pool::builder()
            .workers(1)
            .queue_wait_target(Duration::from_millis(20))
            .build()
            .unwrap();
        for _ in 0..3 {
            pool.apply(|| std::thread::sleep(Duration::from_millis(10)))
                .unwrap();
        }
        // Forty jobs past their deadline, skipped when reached: no run time.
        for _ in 0..40 {
            let mut late = pool.spawn(Apply::new(|| ()).deadline(Instant::now()));
            assert!(late.get().is_err());
        }
        let busy = occupy(&pool, 1);
        let admitted: Vec<_> = (0..50).map_while(|i| pool.offer(move || i).ok()).collect();
        // ~10 ms a job on one worker, a 20 ms target: two or three get in.
        assert!(
            (1..=3).contains(&admitted.len()),
            "{} admitted",
            admitted.len()
        );
        busy.release();
        for mut r in admitted {
            r.get().unwrap();
        }
    });
}

#[test]
fn a_map_is_not_refused_for_waiting_behind_its_own_chunks() {
    within(|| {
        let pool = Pool::builder()
            .workers(2)
            .queue_wait_target(Duration::from_millis(20))
            .build()
            .unwrap();
        for _ in 0..4 {
            pool.apply(|| std::thread::sleep(Duration::from_millis(10)))
                .unwrap();
        }
        // 32 chunks of ~10 ms on 2 workers: the later ones wait ~150 ms
        // behind the earlier ones, on an otherwise idle pool.
        let map = Map::new(|_: u32| std::thread::sleep(Duration::from_millis(5)), 0..64);
        assert_eq!(pool.run(map.chunksize(2)).unwrap().len(), 64);
    });
}

#[test]
fn max_queue_wait_does_not_fail_a_long_map_on_an_idle_pool() {
    within(|| {
        let pool = Pool::builder()
            .workers(2)
            .max_queue_wait(Duration::from_millis(30))
            .build()
            .unwrap();
        // 16 chunks of 10 ms on 2 workers: the last starts after ~70 ms.
        let map = Map::new(
            |_: u32| std::thread::sleep(Duration::from_millis(10)),
            0..16,
        );
        assert_eq!(pool.run(map.chunksize(1)).unwrap().len(), 16);
    });
}

#[test]
fn waiting_for_room_is_not_queue_wait() {
    on_tokio(|| async {
        let pool = Pool::builder()
            .workers(1)
            .queue_capacity(1)
            .max_queue_wait(Duration::from_millis(30))
            .build()
            .unwrap();
        let busy = occupy(&pool, 1);
        let first = pool.offer(|| 1).unwrap(); // the only place
        let waiting = tokio::spawn({
            let pool = pool.clone();
            async move { pool.submit(|| 2).await.unwrap().await }
        });
        tokio::time::sleep(Duration::from_millis(80)).await; // it waits for room
        busy.release();
        // `first` waited 80 ms in the queue: too long, it never runs.
        let err = first.await.unwrap_err();
        assert_eq!(err.cancellation(), Some(Cancellation::DeadlineExpired));
        // The submitted job waited as long, but for room: queued only once
        // `first` was claimed, it runs.
        assert_eq!(waiting.await.unwrap().unwrap(), 2);
    });
}
