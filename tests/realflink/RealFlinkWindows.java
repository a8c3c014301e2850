// The Flink side of the real-Flink comparison (see README.md in this folder).
//
// Reads a cases file written by gen.py and runs every case on a local mini-cluster,
// all in one JVM, several cases per job (args: CASES_FILE [CASES_PER_JOB, default 20]). Each case: a parallelism-1 source that emits the events in the file's order,
// watermarks from Flink's own BoundedOutOfOrdernessWatermarks emitted after every record (the
// auto-watermark interval is off, so nothing depends on the wall clock), keyBy, an event-time
// window with allowed lateness and a late-data side output, an aggregate, and a collecting sink.
//
// Output, one line per result (case ids keep the cases apart):
// A case with several partitions gets one source per partition, unioned before keyBy.
//
//   row <case> <key> <start> <end> <value> <on-time|late>
//   late <case> <key> <ts> <value>
//   done <case> <millis of its batch>
import java.io.BufferedReader;
import java.io.FileReader;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import org.apache.flink.api.common.eventtime.BoundedOutOfOrdernessWatermarks;
import org.apache.flink.api.common.eventtime.WatermarkGenerator;
import org.apache.flink.api.common.eventtime.WatermarkOutput;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.AggregateFunction;
import org.apache.flink.api.common.typeinfo.TypeHint;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.tuple.Tuple3;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.KeyedStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.datastream.WindowedStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
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

public class RealFlinkWindows {

    /** One case of the file: the job's parameters and its events (key, event time, value). */
    static final class Case {
        String id;
        String kind;
        long size, slide, offset, gap, lateness, bound;
        String agg;
        int parallelism, partitions = 1;
        /** Per source partition, its events in order. */
        List<List<Tuple3<String, Long, Long>>> events = new ArrayList<>();
    }

    /**
     * Flink's own bounded-out-of-orderness generator, asked for its watermark after every record
     * instead of on the periodic timer (W = max_ts - bound - 1; the output drops non-increasing ones).
     */
    static final class PerRecord implements WatermarkGenerator<Tuple3<String, Long, Long>> {
        private final BoundedOutOfOrdernessWatermarks<Tuple3<String, Long, Long>> inner;

        PerRecord(long boundMs) {
            inner = new BoundedOutOfOrdernessWatermarks<>(Duration.ofMillis(boundMs));
        }

        @Override
        public void onEvent(Tuple3<String, Long, Long> e, long ts, WatermarkOutput out) {
            inner.onEvent(e, ts, out);
            inner.onPeriodicEmit(out);
        }

        @Override
        public void onPeriodicEmit(WatermarkOutput out) {}
    }

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
            inner.onMerge(w, ctx);
        }

        @Override
        public void clear(TimeWindow w, TriggerContext ctx) throws Exception {
            inner.clear(w, ctx);
        }
    }

    /** count, sum, min, max of the values. */
    static final class Acc implements AggregateFunction<Tuple3<String, Long, Long>, long[], long[]> {
        @Override
        public long[] createAccumulator() {
            return new long[] {0, 0, Long.MAX_VALUE, Long.MIN_VALUE};
        }

        @Override
        public long[] add(Tuple3<String, Long, Long> e, long[] a) {
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

    /** Formats a firing as a row line, with the aggregate the case asks for. */
    static final class Emit extends ProcessWindowFunction<long[], String, String, TimeWindow> {
        private final String caseId, agg;

        Emit(String caseId, String agg) {
            this.caseId = caseId;
            this.agg = agg;
        }

        @Override
        public void process(String key, Context ctx, Iterable<long[]> accs, Collector<String> out) {
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
            out.collect("row " + caseId + " " + key + " " + w.getStart() + " " + w.getEnd() + " " + v + " " + FIRING.get());
            FIRING.set("?");
        }
    }

    static WindowAssigner<Object, TimeWindow> assigner(Case c) {
        switch (c.kind) {
            case "tumbling": return TumblingEventTimeWindows.of(Duration.ofMillis(c.size), Duration.ofMillis(c.offset));
            case "sliding": return SlidingEventTimeWindows.of(Duration.ofMillis(c.size), Duration.ofMillis(c.slide), Duration.ofMillis(c.offset));
            case "session": return EventTimeSessionWindows.withGap(Duration.ofMillis(c.gap));
            default: throw new IllegalArgumentException(c.kind);
        }
    }

    /** Adds one case's pipeline to the job; pipelines of different cases share nothing but the sink. */
    static DataStream<String> pipeline(StreamExecutionEnvironment env, Case c) {
        final long bound = c.bound;
        WatermarkStrategy<Tuple3<String, Long, Long>> wm =
                WatermarkStrategy.<Tuple3<String, Long, Long>>forGenerator(ctx -> new PerRecord(bound))
                        .withTimestampAssigner((e, prev) -> e.f1);
        TypeInformation<Tuple3<String, Long, Long>> evType = Types.TUPLE(Types.STRING, Types.LONG, Types.LONG);
        // One parallelism-1 source per partition (a source subtask reading one partition), each
        // with its own watermarks; the window operator takes the minimum over them.
        DataStream<Tuple3<String, Long, Long>> in = null;
        for (List<Tuple3<String, Long, Long>> partition : c.events) {
            DataStream<Tuple3<String, Long, Long>> s =
                    env.fromData(partition, evType).setParallelism(1).assignTimestampsAndWatermarks(wm);
            in = in == null ? s : in.union(s);
        }
        OutputTag<Tuple3<String, Long, Long>> lateTag = new OutputTag<>("late", evType);
        KeyedStream<Tuple3<String, Long, Long>, String> keyed = in.keyBy(e -> e.f0, Types.STRING);
        WindowedStream<Tuple3<String, Long, Long>, String, TimeWindow> windowed = keyed
                .window(assigner(c))
                .trigger(new Noting())
                .allowedLateness(Duration.ofMillis(c.lateness))
                .sideOutputLateData(lateTag);
        SingleOutputStreamOperator<String> rows = windowed
                .aggregate(new Acc(), new Emit(c.id, c.agg),
                        TypeInformation.of(new TypeHint<long[]>() {}), TypeInformation.of(new TypeHint<long[]>() {}), Types.STRING)
                .setParallelism(c.parallelism);
        final String id = c.id;
        DataStream<String> late = rows.getSideOutput(lateTag).map(e -> "late " + id + " " + e.f0 + " " + e.f1 + " " + e.f2).returns(Types.STRING).setParallelism(c.parallelism);
        return rows.union(late);
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
        try (CloseableIterator<String> it = all.executeAndCollect("realflink cases " + batch.get(0).id + ".." + batch.get(batch.size() - 1).id)) {
            while (it.hasNext()) lines.add(it.next());
        }
        return lines;
    }

    static List<Case> read(String path) throws Exception {
        List<Case> cases = new ArrayList<>();
        Case cur = null;
        try (BufferedReader r = new BufferedReader(new FileReader(path))) {
            for (String line; (line = r.readLine()) != null; ) {
                String[] f = line.trim().split("\\s+");
                if (f.length == 0 || f[0].isEmpty()) continue;
                switch (f[0]) {
                    case "case":
                        cur = new Case();
                        cur.id = f[1];
                        for (int i = 2; i < f.length; i++) {
                            String[] kv = f[i].split("=", 2);
                            switch (kv[0]) {
                                case "kind": cur.kind = kv[1]; break;
                                case "size": cur.size = Long.parseLong(kv[1]); break;
                                case "slide": cur.slide = Long.parseLong(kv[1]); break;
                                case "offset": cur.offset = Long.parseLong(kv[1]); break;
                                case "gap": cur.gap = Long.parseLong(kv[1]); break;
                                case "lateness": cur.lateness = Long.parseLong(kv[1]); break;
                                case "bound": cur.bound = Long.parseLong(kv[1]); break;
                                case "agg": cur.agg = kv[1]; break;
                                case "parallelism": cur.parallelism = Integer.parseInt(kv[1]); break;
                                case "partitions": cur.partitions = Integer.parseInt(kv[1]); break;
                                default: throw new IllegalArgumentException(path + ": unknown field " + kv[0]);
                            }
                        }
                        for (int p = 0; p < cur.partitions; p++) cur.events.add(new ArrayList<>());
                        cases.add(cur);
                        break;
                    case "e":
                        cur.events.get(Integer.parseInt(f[4])).add(Tuple3.of(f[1], Long.parseLong(f[2]), Long.parseLong(f[3])));
                        break;
                    default:
                        throw new IllegalArgumentException(path + ": bad line " + line);
                }
            }
        }
        return cases;
    }

    public static void main(String[] args) throws Exception {
        // Flink logs to stdout through log4j unless told otherwise; keep stdout for the rows.
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
    }
}
