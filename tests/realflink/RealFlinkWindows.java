// The Flink side of the real-Flink comparison (see README.md in this folder).
//
// Usage: java -cp 'PYFLINK_LIB/*:CLASSES' RealFlinkWindows CASES_FILE [CASES_PER_JOB (default 20)]
//
// Reads a cases file written by gen.py and runs every case on a local mini-cluster, all in one
// JVM, several cases per job. Each case: one parallelism-1 source per partition that emits the
// partition's events in the file's order (or one for all partitions, with a watermark generator
// per partition combined as Flink combines per-split watermarks), watermarks from Flink's own
// BoundedOutOfOrdernessWatermarks asked after every record (the auto-watermark interval is off,
// so nothing depends on the wall clock), keyBy, an event-time window with allowed lateness and a
// late-data side output, an aggregate; optionally a second keyBy and window over the first
// window's results; and a collecting sink.
//
// Output on stdout, one line per result (case ids keep the cases apart):
//   row <case> <key> <start> <end> <value> <on-time|late> <timestamp of the result record>
//   late<window number> <case> <key> <ts> <value>      (a record dropped as late: side output)
//   done <case> <millis of its batch>
//   merges <session merges> <of them, merged sessions that end behind the watermark>   (at the end)
import java.io.BufferedReader;
import java.io.FileReader;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.flink.api.common.eventtime.BoundedOutOfOrdernessWatermarks;
import org.apache.flink.api.common.eventtime.WatermarkGenerator;
import org.apache.flink.api.common.eventtime.WatermarkOutput;
import org.apache.flink.api.common.eventtime.WatermarkOutputMultiplexer;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.eventtime.WatermarksWithIdleness;
import org.apache.flink.api.common.functions.AggregateFunction;
import org.apache.flink.api.common.typeinfo.TypeHint;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.tuple.Tuple4;
import org.apache.flink.api.java.tuple.Tuple6;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.streaming.api.functions.windowing.ProcessWindowFunction;
import org.apache.flink.streaming.api.windowing.assigners.EventTimeSessionWindows;
import org.apache.flink.streaming.api.windowing.assigners.SlidingEventTimeWindows;
import org.apache.flink.streaming.api.windowing.assigners.TumblingEventTimeWindows;
import org.apache.flink.streaming.api.windowing.assigners.WindowAssigner;
import org.apache.flink.streaming.api.windowing.triggers.EventTimeTrigger;
import org.apache.flink.streaming.api.windowing.triggers.Trigger;
import org.apache.flink.streaming.api.windowing.triggers.TriggerResult;
import org.apache.flink.streaming.api.windowing.windows.TimeWindow;
import org.apache.flink.util.CloseableIterator;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;
import org.apache.flink.util.clock.RelativeClock;

public class RealFlinkWindows {


    /** One window step of a case. */
    static final class Win {
        String kind, agg;
        long size, slide, offset, gap, lateness;
        int parallelism;
    }

    /** One case of the file: watermark bound, window steps, and per source partition its events. */
    static final class Case {
        String id;
        long bound;
        int partitions = 1;
        /** Whether the sources emit watermarks at all (else only Long.MAX_VALUE at the end). */
        boolean watermarks = true;
        /** One source subtask reads every partition (else one source subtask per partition). */
        boolean sharedSource;
        List<Win> windows = new ArrayList<>();
        /** key, event time, value, partition; in the file's order. */
        List<Tuple4<String, Long, Long, Integer>> events = new ArrayList<>();
        /** Idle timeout of each partition in ms (shared source only; -1: none). */
        long idleTimeoutMs = -1;
        /** With an idle timeout: each event's arrival (streamlab's `arrives`, ms), in order. */
        List<Long> arrivals = new ArrayList<>();
    }

    /**
     * Flink's own bounded-out-of-orderness generator, asked for its watermark after every record
     * instead of on the periodic timer (W = max_ts - bound - 1; the output drops non-increasing ones).
     */
    static final class PerRecord implements WatermarkGenerator<Tuple4<String, Long, Long, Integer>> {
        private final BoundedOutOfOrdernessWatermarks<Tuple4<String, Long, Long, Integer>> inner;

        PerRecord(long boundMs) {
            inner = new BoundedOutOfOrdernessWatermarks<>(Duration.ofMillis(boundMs));
        }

        @Override
        public void onEvent(Tuple4<String, Long, Long, Integer> e, long ts, WatermarkOutput out) {
            inner.onEvent(e, ts, out);
            inner.onPeriodicEmit(out);
        }

        @Override
        public void onPeriodicEmit(WatermarkOutput out) {}
    }

    /**
     * One source subtask reading several partitions with a watermark generator per partition,
     * combined the way Flink's SourceOperator combines per-split watermarks: a
     * WatermarkOutputMultiplexer with one output per split (all registered up front, as a reader
     * that is assigned its splits at the start), a generator's onEvent emissions going to the
     * split's immediate output (ProgressiveTimestampsAndWatermarks.SplitLocalOutputs).
     */
    static final class PerPartition implements WatermarkGenerator<Tuple4<String, Long, Long, Integer>> {
        private final List<PerRecord> generators = new ArrayList<>();
        private WatermarkOutputMultiplexer multiplexer;

        PerPartition(long boundMs, int partitions) {
            for (int p = 0; p < partitions; p++) generators.add(new PerRecord(boundMs));
        }

        @Override
        public void onEvent(Tuple4<String, Long, Long, Integer> e, long ts, WatermarkOutput out) {
            if (multiplexer == null) {
                multiplexer = new WatermarkOutputMultiplexer(out);
                for (int p = 0; p < generators.size(); p++) multiplexer.registerNewOutput(Integer.toString(p));
            }
            generators.get(e.f3).onEvent(e, ts, multiplexer.getImmediateOutput(Integer.toString(e.f3)));
        }

        @Override
        public void onPeriodicEmit(WatermarkOutput out) {}
    }

    /**
     * Processing time as the case states it: the arrival times of its events, set by the job
     * (offset from 0, which IdlenessTimer takes for "not started").
     */
    static final class CaseClock implements RelativeClock {
        static final long OFFSET_MS = 1_000_000;
        long nowMs = OFFSET_MS;

        @Override
        public long relativeTimeMillis() {
            return nowMs;
        }

        @Override
        public long relativeTimeNanos() {
            return nowMs * 1_000_000;
        }
    }

    /**
     * PerPartition with Flink's own idleness (WatermarksWithIdleness per partition) on the case's
     * processing time instead of the wall clock: the record, at its arrival, on the split's
     * immediate output; then the periodic checks the source's timer makes before the next
     * record arrives (every 200 ms from time 0, the first at 200 ms: Flink's default
     * auto-watermark interval, its timer first firing one interval after the start, and
     * streamlab's checks under PerRecord), with the clock at their time, each partition's
     * generator on the split's deferred output and then the multiplexer's combination, as
     * SourceOperator's periodic emit does. Arrivals are never on a check's time (gen.py), so
     * which comes first is never in question.
     */
    static final class PerPartitionIdle implements WatermarkGenerator<Tuple4<String, Long, Long, Integer>> {
        static final long CHECK_INTERVAL_MS = 200;
        private final List<WatermarksWithIdleness<Tuple4<String, Long, Long, Integer>>> generators = new ArrayList<>();
        private final CaseClock clock = new CaseClock();
        private final List<Long> arrivals;
        private int next;
        /** Flink's first periodic emission comes one interval after the start, not at it. */
        private long nextCheckMs = CHECK_INTERVAL_MS;
        private WatermarkOutputMultiplexer multiplexer;

        PerPartitionIdle(long boundMs, int partitions, long idleTimeoutMs, List<Long> arrivals) {
            for (int p = 0; p < partitions; p++) {
                generators.add(new WatermarksWithIdleness<>(new PerRecord(boundMs), Duration.ofMillis(idleTimeoutMs), clock));
            }
            this.arrivals = arrivals;
        }

        @Override
        public void onEvent(Tuple4<String, Long, Long, Integer> e, long ts, WatermarkOutput out) {
            if (multiplexer == null) {
                multiplexer = new WatermarkOutputMultiplexer(out);
                for (int p = 0; p < generators.size(); p++) multiplexer.registerNewOutput(Integer.toString(p));
            }
            if (next == 0) checksBefore(arrivals.get(0));
            clock.nowMs = CaseClock.OFFSET_MS + arrivals.get(next++);
            generators.get(e.f3).onEvent(e, ts, multiplexer.getImmediateOutput(Integer.toString(e.f3)));
            // The operator has already sent this record on (it calls onEvent after), so the checks
            // before the next record's arrival run now, ahead of that record.
            if (next < arrivals.size()) checksBefore(arrivals.get(next));
        }

        private void checksBefore(long arrivalMs) {
            while (nextCheckMs < arrivalMs) {
                clock.nowMs = CaseClock.OFFSET_MS + nextCheckMs;
                for (int p = 0; p < generators.size(); p++) {
                    generators.get(p).onPeriodicEmit(multiplexer.getDeferredOutput(Integer.toString(p)));
                }
                multiplexer.onPeriodicEmit();
                nextCheckMs += CHECK_INTERVAL_MS;
            }
        }

        @Override
        public void onPeriodicEmit(WatermarkOutput out) {}
    }

    /** Session merges, and those whose merged session ends behind the watermark: how much the cases exercise. */
    static final AtomicLong MERGES = new AtomicLong(), MERGES_BEHIND_WATERMARK = new AtomicLong();

    /** Which trigger call fired the window being emitted: set just before the window function runs. */
    static final ThreadLocal<String> FIRING = ThreadLocal.withInitial(() -> "?");

    /**
     * Flink's EventTimeTrigger, unchanged (every call delegates), that notes whether a FIRE came
     * from an element (a late firing) or from the event-time timer (on time).
     */
    static final class Noting extends Trigger<Object, TimeWindow> {
        private final EventTimeTrigger inner = EventTimeTrigger.create();

        @Override
        public TriggerResult onElement(Object e, long ts, TimeWindow w, TriggerContext ctx) throws Exception {
            TriggerResult r = inner.onElement(e, ts, w, ctx);
            if (r.isFire()) FIRING.set("late");
            return r;
        }

        @Override
        public TriggerResult onEventTime(long time, TimeWindow w, TriggerContext ctx) {
            TriggerResult r = inner.onEventTime(time, w, ctx);
            if (r.isFire()) FIRING.set("on-time");
            return r;
        }

        @Override
        public TriggerResult onProcessingTime(long time, TimeWindow w, TriggerContext ctx) throws Exception {
            return inner.onProcessingTime(time, w, ctx);
        }

        @Override
        public boolean canMerge() {
            return inner.canMerge();
        }

        @Override
        public void onMerge(TimeWindow w, OnMergeContext ctx) {
            MERGES.incrementAndGet();
            if (w.maxTimestamp() <= ctx.getCurrentWatermark()) MERGES_BEHIND_WATERMARK.incrementAndGet();
            inner.onMerge(w, ctx);
        }

        @Override
        public void clear(TimeWindow w, TriggerContext ctx) throws Exception {
            inner.clear(w, ctx);
        }
    }

    /** count, sum, min, max of the values. */
    static final class Acc implements AggregateFunction<Tuple4<String, Long, Long, Integer>, long[], long[]> {
        @Override
        public long[] createAccumulator() {
            return new long[] {0, 0, Long.MAX_VALUE, Long.MIN_VALUE};
        }

        @Override
        public long[] add(Tuple4<String, Long, Long, Integer> e, long[] a) {
            return new long[] {a[0] + 1, a[1] + e.f2, Math.min(a[2], e.f2), Math.max(a[3], e.f2)};
        }

        @Override
        public long[] getResult(long[] a) {
            return a;
        }

        @Override
        public long[] merge(long[] a, long[] b) {
            return new long[] {a[0] + b[0], a[1] + b[1], Math.min(a[2], b[2]), Math.max(a[3], b[3])};
        }
    }

    /** A firing: key, start, end, value (the step's aggregate), firing kind, and a spare field. */
    static final class Emit extends ProcessWindowFunction<long[], Tuple6<String, Long, Long, Long, String, Long>, String, TimeWindow> {
        private final String agg;

        Emit(String agg) {
            this.agg = agg;
        }

        @Override
        public void process(String key, Context ctx, Iterable<long[]> accs, Collector<Tuple6<String, Long, Long, Long, String, Long>> out) {
            long[] a = accs.iterator().next();
            long v;
            switch (agg) {
                case "Count": v = a[0]; break;
                case "Sum": v = a[1]; break;
                case "Min": v = a[2]; break;
                case "Max": v = a[3]; break;
                // The mean in thousandths, truncated towards zero (Java's long division truncates).
                case "AvgMilli": v = Math.multiplyExact(a[1], 1000L) / a[0]; break;
                default: throw new IllegalArgumentException(agg);
            }
            TimeWindow w = ctx.window();
            out.collect(Tuple6.of(key, w.getStart(), w.getEnd(), v, FIRING.get(), 0L));
            FIRING.set("?");
        }
    }

    static WindowAssigner<Object, TimeWindow> assigner(Win w) {
        switch (w.kind) {
            case "tumbling": return TumblingEventTimeWindows.of(Duration.ofMillis(w.size), Duration.ofMillis(w.offset));
            case "sliding": return SlidingEventTimeWindows.of(Duration.ofMillis(w.size), Duration.ofMillis(w.slide), Duration.ofMillis(w.offset));
            case "session": return EventTimeSessionWindows.withGap(Duration.ofMillis(w.gap));
            default: throw new IllegalArgumentException(w.kind);
        }
    }

    static final TypeInformation<Tuple4<String, Long, Long, Integer>> EVENT =
            Types.TUPLE(Types.STRING, Types.LONG, Types.LONG, Types.INT);
    static final TypeInformation<Tuple6<String, Long, Long, Long, String, Long>> RESULT =
            Types.TUPLE(Types.STRING, Types.LONG, Types.LONG, Types.LONG, Types.STRING, Types.LONG);

    /**
     * Adds one case's job to the environment; the jobs of different cases share nothing but the
     * collecting sink.
     */
    static DataStream<String> pipeline(StreamExecutionEnvironment env, Case c) {
        final long bound = c.bound;
        final String id = c.id;
        final int partitions = c.partitions;
        final long idleTimeoutMs = c.idleTimeoutMs;
        final List<Long> arrivals = c.arrivals;
        DataStream<Tuple4<String, Long, Long, Integer>> in = null;
        if (!c.watermarks) {
            WatermarkStrategy<Tuple4<String, Long, Long, Integer>> none = WatermarkStrategy
                    .<Tuple4<String, Long, Long, Integer>>noWatermarks()
                    .withTimestampAssigner((e, prev) -> e.f1);
            in = env.fromData(c.events, EVENT).setParallelism(1).assignTimestampsAndWatermarks(none);
        } else if (c.sharedSource) {
            WatermarkStrategy<Tuple4<String, Long, Long, Integer>> wm = WatermarkStrategy
                    .<Tuple4<String, Long, Long, Integer>>forGenerator(ctx -> idleTimeoutMs >= 0
                            ? new PerPartitionIdle(bound, partitions, idleTimeoutMs, arrivals)
                            : new PerPartition(bound, partitions))
                    .withTimestampAssigner((e, prev) -> e.f1);
            in = env.fromData(c.events, EVENT).setParallelism(1).assignTimestampsAndWatermarks(wm);
        } else {
            // One parallelism-1 source per partition (a source subtask reading one partition), each
            // with its own watermarks; the window operator takes the minimum over them.
            WatermarkStrategy<Tuple4<String, Long, Long, Integer>> wm = WatermarkStrategy
                    .<Tuple4<String, Long, Long, Integer>>forGenerator(ctx -> new PerRecord(bound))
                    .withTimestampAssigner((e, prev) -> e.f1);
            for (int p = 0; p < c.partitions; p++) {
                List<Tuple4<String, Long, Long, Integer>> partition = new ArrayList<>();
                for (Tuple4<String, Long, Long, Integer> e : c.events) if (e.f3 == p) partition.add(e);
                DataStream<Tuple4<String, Long, Long, Integer>> s =
                        env.fromData(partition, EVENT).setParallelism(1).assignTimestampsAndWatermarks(wm);
                in = in == null ? s : in.union(s);
            }
        }
        DataStream<String> lates = null;
        SingleOutputStreamOperator<Tuple6<String, Long, Long, Long, String, Long>> results = null;
        for (int i = 0; i < c.windows.size(); i++) {
            Win w = c.windows.get(i);
            if (results != null) {
                // The next window reads the results: key, the result's own timestamp, value.
                in = results.process(new ProcessFunction<Tuple6<String, Long, Long, Long, String, Long>, Tuple4<String, Long, Long, Integer>>() {
                    @Override
                    public void processElement(Tuple6<String, Long, Long, Long, String, Long> r, Context ctx, Collector<Tuple4<String, Long, Long, Integer>> out) {
                        out.collect(Tuple4.of(r.f0, ctx.timestamp(), r.f3, 0));
                    }
                }).returns(EVENT).setParallelism(c.windows.get(i - 1).parallelism);
            }
            OutputTag<Tuple4<String, Long, Long, Integer>> lateTag = new OutputTag<>("late" + (i + 1), EVENT);
            results = in.keyBy(e -> e.f0, Types.STRING)
                    .window(assigner(w))
                    .trigger(new Noting())
                    .allowedLateness(Duration.ofMillis(w.lateness))
                    .sideOutputLateData(lateTag)
                    .aggregate(new Acc(), new Emit(w.agg), TypeInformation.of(new TypeHint<long[]>() {}),
                            TypeInformation.of(new TypeHint<long[]>() {}), RESULT)
                    .setParallelism(w.parallelism);
            final String tag = "late" + (i + 1);
            DataStream<String> late = results.getSideOutput(lateTag)
                    .map(e -> tag + " " + id + " " + e.f0 + " " + e.f1 + " " + e.f2).returns(Types.STRING)
                    .setParallelism(w.parallelism);
            lates = lates == null ? late : lates.union(late);
        }
        // The last window's results, with the timestamp Flink gives a result record (the window's
        // maxTimestamp, end - 1) as the next operator sees it.
        DataStream<String> rows = results.process(new ProcessFunction<Tuple6<String, Long, Long, Long, String, Long>, String>() {
            @Override
            public void processElement(Tuple6<String, Long, Long, Long, String, Long> r, Context ctx, Collector<String> out) {
                out.collect("row " + id + " " + r.f0 + " " + r.f1 + " " + r.f2 + " " + r.f3 + " " + r.f4 + " " + ctx.timestamp());
            }
        }).returns(Types.STRING).setParallelism(c.windows.get(c.windows.size() - 1).parallelism);
        return rows.union(lates);
    }

    /**
     * Runs several cases as one job (a mini-cluster's start costs seconds; a case's pipeline
     * milliseconds). Watermarks never cross from one case's pipeline to another's: they meet only
     * in the collecting sink, which has no event-time logic.
     */
    static List<String> runBatch(List<Case> batch) throws Exception {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(4, new Configuration());
        env.getConfig().setAutoWatermarkInterval(0L);
        DataStream<String> all = null;
        for (Case c : batch) {
            DataStream<String> p = pipeline(env, c);
            all = all == null ? p : all.union(p);
        }
        List<String> lines = new ArrayList<>();
        String name = "realflink cases " + batch.get(0).id + ".." + batch.get(batch.size() - 1).id;
        try (CloseableIterator<String> it = all.executeAndCollect(name)) {
            while (it.hasNext()) lines.add(it.next());
        }
        return lines;
    }

    /**
     * The cases file: `case ID bound=B watermarks=true|false partitions=P shared_source=true|false
     * [idle_timeout=T]`, then per window step `window kind=... size=... slide=... offset=... gap=...
     * lateness=... agg=... parallelism=...`, then the events `e KEY TS VALUE PARTITION [ARRIVAL]`
     * in order (ARRIVAL in ms, with an idle timeout).
     */
    static List<Case> read(String path) throws Exception {
        List<Case> cases = new ArrayList<>();
        Case cur = null;
        int lineNo = 0;
        try (BufferedReader r = new BufferedReader(new FileReader(path))) {
            for (String line; (line = r.readLine()) != null; ) {
                lineNo++;
                String[] f = line.trim().split("\\s+");
                if (f[0].isEmpty()) continue;
                switch (f[0]) {
                    case "case":
                        cur = new Case();
                        cur.id = f[1];
                        for (int i = 2; i < f.length; i++) {
                            String[] kv = f[i].split("=", 2);
                            switch (kv[0]) {
                                case "bound": cur.bound = Long.parseLong(kv[1]); break;
                                case "partitions": cur.partitions = Integer.parseInt(kv[1]); break;
                                case "shared_source": cur.sharedSource = Boolean.parseBoolean(kv[1]); break;
                                case "watermarks": cur.watermarks = Boolean.parseBoolean(kv[1]); break;
                                case "idle_timeout": cur.idleTimeoutMs = Long.parseLong(kv[1]); break;
                                default: throw new IllegalArgumentException(path + ":" + lineNo + ": unknown field " + kv[0]);
                            }
                        }
                        cases.add(cur);
                        break;
                    case "window":
                        Win w = new Win();
                        for (int i = 1; i < f.length; i++) {
                            String[] kv = f[i].split("=", 2);
                            switch (kv[0]) {
                                case "kind": w.kind = kv[1]; break;
                                case "size": w.size = Long.parseLong(kv[1]); break;
                                case "slide": w.slide = Long.parseLong(kv[1]); break;
                                case "offset": w.offset = Long.parseLong(kv[1]); break;
                                case "gap": w.gap = Long.parseLong(kv[1]); break;
                                case "lateness": w.lateness = Long.parseLong(kv[1]); break;
                                case "agg": w.agg = kv[1]; break;
                                case "parallelism": w.parallelism = Integer.parseInt(kv[1]); break;
                                default: throw new IllegalArgumentException(path + ":" + lineNo + ": unknown field " + kv[0]);
                            }
                        }
                        cur.windows.add(w);
                        break;
                    case "e":
                        cur.events.add(Tuple4.of(f[1], Long.parseLong(f[2]), Long.parseLong(f[3]), Integer.parseInt(f[4])));
                        if (f.length > 5) cur.arrivals.add(Long.parseLong(f[5]));
                        break;
                    default:
                        throw new IllegalArgumentException(path + ":" + lineNo + ": bad line " + line);
                }
            }
        }
        return cases;
    }

    public static void main(String[] args) throws Exception {
        // Flink may log to stdout; keep stdout for the rows.
        PrintStream out = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true);
        System.setOut(System.err);
        List<Case> cases = read(args[0]);
        int batchSize = args.length > 1 ? Integer.parseInt(args[1]) : 20;
        for (int from = 0; from < cases.size(); from += batchSize) {
            List<Case> batch = cases.subList(from, Math.min(cases.size(), from + batchSize));
            long t0 = System.nanoTime();
            List<String> lines = runBatch(batch);
            for (String l : lines) out.println(l);
            long ms = (System.nanoTime() - t0) / 1_000_000;
            for (Case c : batch) out.println("done " + c.id + " " + ms);
        }
        out.println("merges " + MERGES.get() + " " + MERGES_BEHIND_WATERMARK.get());
    }
}
