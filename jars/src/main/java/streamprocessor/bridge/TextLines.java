package streamprocessor.bridge;

import java.util.Arrays;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.io.LongWritable;
import org.apache.hadoop.io.Text;
import org.apache.hadoop.mapreduce.lib.input.TextInputFormat;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;

/**
 * {@code replay}'s input: a file of messages as the batch DataFrame, built here so that lines
 * reach Spark SQL as raw bytes (a String on the way would replace bytes that are not UTF-8,
 * which must be rejected as invalid_json and dead-lettered unchanged).
 */
public final class TextLines {
  private TextLines() {}

  /**
   * A text file as a batch (columns: {@link KafkaBridge#SOURCE_SCHEMA}), read in splits by the executors:
   * each line's raw bytes (a line ends at "\n" alone; a "\r" before it is dropped) as value, its
   * 0-based line number as offset, {@code topic} as topic, partition 0, no timestamp or key;
   * spread over at least {@code minPartitions} partitions.
   */
  public static Dataset<Row> read(SparkSession spark, String path, String topic, int minPartitions) {
    Configuration conf = new Configuration(spark.sparkContext().hadoopConfiguration());
    conf.set("textinputformat.record.delimiter", "\n");
    JavaRDD<byte[]> lines = spark.sparkContext()
        .newAPIHadoopFile(path, TextInputFormat.class, LongWritable.class, Text.class, conf)
        .toJavaRDD()
        .map(pair -> withoutCr(pair._2()));  // Hadoop reuses the Text: copy its bytes
    JavaRDD<Row> rows = lines.zipWithIndex()
        .map(line -> RowFactory.create(topic, 0, line._2(), null, null, line._1()));
    return spark.createDataFrame(spread(rows, minPartitions), KafkaBridge.SOURCE_SCHEMA);
  }

  /** {@code rows} as they are, or shuffled into {@code minPartitions} partitions if they have fewer. */
  private static JavaRDD<Row> spread(JavaRDD<Row> rows, int minPartitions) {
    return rows.getNumPartitions() >= minPartitions ? rows : rows.repartition(minPartitions);
  }

  private static byte[] withoutCr(Text line) {
    int n = line.getLength();
    if (n > 0 && line.getBytes()[n - 1] == '\r') {
      n--;
    }
    return Arrays.copyOf(line.getBytes(), n);
  }
}
