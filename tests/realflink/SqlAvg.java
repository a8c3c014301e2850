// Flink SQL's AVG over BIGINT, for the AvgMilli check (see README.md in this folder).
//
// Usage: java -cp 'PYFLINK_LIB/*:CLASSES' SqlAvg FILE
// FILE holds lines `GROUP VALUE`; prints `avg GROUP AVG(VALUE * 1000)` per group, as Flink's SQL
// computes it (batch mode; the AVG of a BIGINT is a BIGINT).
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;

import org.apache.flink.api.common.RuntimeExecutionMode;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.types.Row;
import org.apache.flink.util.CloseableIterator;

public class SqlAvg {
    public static void main(String[] args) throws Exception {
        List<Tuple2<Long, Long>> rows = new ArrayList<>();
        for (String line : Files.readAllLines(Paths.get(args[0]))) {
            String[] f = line.trim().split("\\s+");
            if (f.length == 2) rows.add(Tuple2.of(Long.parseLong(f[0]), Long.parseLong(f[1])));
        }
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(1);
        env.setRuntimeMode(RuntimeExecutionMode.BATCH);
        StreamTableEnvironment t = StreamTableEnvironment.create(env);
        t.createTemporaryView("t", t.fromDataStream(env.fromData(rows, Types.TUPLE(Types.LONG, Types.LONG))));
        try (CloseableIterator<Row> it = t.executeSql("SELECT f0, AVG(f1 * 1000) FROM t GROUP BY f0").collect()) {
            while (it.hasNext()) {
                Row row = it.next();
                System.out.println("avg " + row.getField(0) + " " + row.getField(1));
            }
        }
    }
}
