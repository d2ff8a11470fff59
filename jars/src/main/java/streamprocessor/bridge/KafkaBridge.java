package streamprocessor.bridge;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.rdd.RDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.streaming.StreamingContext;
import org.apache.spark.streaming.api.java.JavaInputDStream;
import org.apache.spark.streaming.api.java.JavaStreamingContext;
import org.apache.spark.streaming.dstream.InputDStream;
import org.apache.spark.streaming.kafka010.CanCommitOffsets;
import org.apache.spark.streaming.kafka010.ConsumerStrategies;
import org.apache.spark.streaming.kafka010.ConsumerStrategy;
import org.apache.spark.streaming.kafka010.HasOffsetRanges;
import org.apache.spark.streaming.kafka010.KafkaRDD;
import org.apache.spark.streaming.kafka010.KafkaUtils;
import org.apache.spark.streaming.kafka010.LocationStrategies;
import org.apache.spark.streaming.kafka010.LocationStrategy;
import org.apache.spark.streaming.kafka010.OffsetRange;
import org.apache.spark.streaming.kafka010.PerPartitionConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Python face of spark-streaming-kafka-0-10, which has a Java/Scala API only.
 *
 * <p>Everything here is called through Py4J by {@code stream_processor/spark/jvm_bridge.py}: only
 * strings, numbers, lists, maps and Spark's own Java objects cross. Records never reach Python
 * as such: a batch becomes a DataFrame here ({@link #sourceDataFrame}), and Spark SQL and
 * mapInArrow take it from there ({@link TextLines} reads a replay file into the same shape).
 */
public final class KafkaBridge {
  private static final Logger LOG = LoggerFactory.getLogger(KafkaBridge.class);

  /** Columns of {@link #sourceDataFrame} and {@link TextLines#read}: a batch's records. */
  public static final StructType SOURCE_SCHEMA = new StructType()
      .add("topic", DataTypes.StringType, false)
      .add("partition", DataTypes.IntegerType, false)
      .add("offset", DataTypes.LongType, false)
      .add("timestamp", DataTypes.LongType, true)
      .add("key", DataTypes.BinaryType, true)
      .add("value", DataTypes.BinaryType, true);

  private KafkaBridge() {}

  /**
   * A created direct stream. Python wraps {@link #input} as its DStream: its RDDs are handles,
   * passed back here for the batch's DataFrame, offsets and commit, never read in Python.
   */
  public static final class Stream {
    private final JavaInputDStream<ConsumerRecord<byte[], byte[]>> input;

    Stream(JavaInputDStream<ConsumerRecord<byte[], byte[]>> input) {
      this.input = input;
    }

    /** The input stream's id: stable across checkpoint recovery, so Python finds it by id. */
    public int id() {
      return input.inputDStream().id();
    }

    public JavaInputDStream<ConsumerRecord<byte[], byte[]>> input() {
      return input;
    }
  }

  /**
   * Creates the direct stream. Its partitions are assigned, not subscribed: a restarted job
   * reads at once instead of waiting for the group's session timeout to drop the dead
   * consumer (about 45 s). The group id is only where offsets are committed. Partitions added to
   * a topic later are read after the next restart.
   *
   * @param startingOffsets {@code committed} (the group's offsets, else auto.offset.reset),
   *     {@code earliest} or {@code latest} (both ignore the group's committed offsets)
   * @param locationStrategy {@code consistent} (spread partitions over executors) or
   *     {@code brokers} (executors on the brokers' hosts)
   * @param maxRatePerPartition records per second per partition a batch may read; 0 leaves it
   *     to {@code spark.streaming.kafka.maxRatePerPartition}. Given here, it holds even on a
   *     SparkContext that was started with other settings.
   */
  public static Stream createDirectStream(JavaStreamingContext jssc, Map<String, String> params,
      List<String> topics, String startingOffsets, String locationStrategy, long maxRatePerPartition) {
    Map<String, Object> kafkaParams = new HashMap<>(params);
    kafkaParams.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
    kafkaParams.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
    kafkaParams.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);

    LocationStrategy location;
    switch (locationStrategy) {
      case "consistent": location = LocationStrategies.PreferConsistent(); break;
      case "brokers": location = LocationStrategies.PreferBrokers(); break;
      default: throw new IllegalArgumentException(
          "locationStrategy must be consistent or brokers, got " + locationStrategy);
    }
    if (!List.of("committed", "earliest", "latest").contains(startingOffsets)) {
      throw new IllegalArgumentException(
          "startingOffsets must be committed, earliest or latest, got " + startingOffsets);
    }
    Map<TopicPartition, Long> offsets = startOffsets(kafkaParams, topics, startingOffsets);
    ConsumerStrategy<byte[], byte[]> strategy =
        ConsumerStrategies.<byte[], byte[]>Assign(new ArrayList<>(offsets.keySet()), kafkaParams, offsets);
    JavaInputDStream<ConsumerRecord<byte[], byte[]>> input = maxRatePerPartition > 0
        ? KafkaUtils.createDirectStream(jssc, location, strategy, new FixedRate(maxRatePerPartition))
        : KafkaUtils.createDirectStream(jssc, location, strategy);
    return new Stream(input);
  }

  /**
   * Where each partition of the topics starts, read with a short-lived consumer that joins no
   * group: for {@code committed} the group's committed offset, and where it has none (a new
   * group or partition) the first or the next offset per auto.offset.reset; for {@code earliest}
   * or {@code latest} the first or the next offset.
   */
  private static Map<TopicPartition, Long> startOffsets(Map<String, Object> kafkaParams,
      Collection<String> topics, String where) {
    if (!"committed".equals(where)) {
      kafkaParams.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, where);
    }
    boolean latest = "latest".equals(kafkaParams.get(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG));
    Duration timeout = Duration.ofSeconds(60);
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(new HashMap<>(kafkaParams))) {
      Set<TopicPartition> partitions = new HashSet<>();
      for (String topic : topics) {
        List<PartitionInfo> infos = consumer.partitionsFor(topic, timeout);
        if (infos == null || infos.isEmpty()) {
          throw new IllegalStateException("topic " + topic + " does not exist (and the broker does not"
              + " create topics on demand): create it first, e.g. with `python -m stream_processor produce`");
        }
        for (PartitionInfo info : infos) {
          partitions.add(new TopicPartition(info.topic(), info.partition()));
        }
      }
      Map<TopicPartition, Long> offsets = new HashMap<>(
          latest ? consumer.endOffsets(partitions, timeout) : consumer.beginningOffsets(partitions, timeout));
      if ("committed".equals(where)) {
        consumer.committed(partitions, timeout).forEach((tp, committed) -> {
          if (committed != null) {
            offsets.put(tp, committed.offset());
          }
        });
      }
      LOG.info("starting offsets ({}): {}", where, offsets);
      return offsets;
    }
  }

  /** Offset ranges of the batch behind {@code rdd}, one line each: topic TAB partition TAB from TAB until. */
  public static String offsetRanges(Object rdd) {
    StringBuilder out = new StringBuilder();
    for (OffsetRange r : ((HasOffsetRanges) kafkaRdd(rdd)).offsetRanges()) {
      out.append(r.topic()).append('\t').append(r.partition()).append('\t')
          .append(r.fromOffset()).append('\t').append(r.untilOffset()).append('\n');
    }
    return out.toString();
  }

  /**
   * Queues offset ranges (in {@link #offsetRanges}'s format) for commit to the consumer group.
   * The input stream sends them with its next poll (the next batch), so the last batch before
   * a stop is read again.
   *
   * @return the number of offset ranges queued
   */
  public static int commit(int streamId, String ranges) {
    List<OffsetRange> parsed = new ArrayList<>();
    for (String line : ranges.split("\n")) {
      if (!line.isEmpty()) {
        String[] f = line.split("\t");
        parsed.add(OffsetRange.create(f[0], Integer.parseInt(f[1]), Long.parseLong(f[2]), Long.parseLong(f[3])));
      }
    }
    inputStream(streamId).commitAsync(parsed.toArray(new OffsetRange[0]), (committed, error) -> {
      if (error != null) {
        LOG.warn("offset commit of stream {} failed (the batch will be read again): {}",
            streamId, error.toString());
      } else if (LOG.isDebugEnabled()) {
        LOG.debug("committed offsets of stream {}: {}", streamId, committed);
      }
    });
    return parsed.size();
  }

  /**
   * The batch as a DataFrame built in the JVM (columns: {@link #SOURCE_SCHEMA}), read by about
   * {@code tasks} tasks (one per core): each Kafka partition's offset range is cut into
   * consecutive slices ({@link #slices}), read by a KafkaRDD like the stream's own. A batch with
   * fewer partitions than cores thus uses every core without a shuffle of its frames. More tasks
   * than cores balance the cores better, but each Python task costs ~0.1 s of CPU here: measured,
   * it cost more than it saved (benchmarks/README.md, "Tried and not adopted").
   */
  public static Dataset<Row> sourceDataFrame(SparkSession spark, Object rdd, int tasks) {
    @SuppressWarnings("unchecked")
    KafkaRDD<byte[], byte[]> batch = (KafkaRDD<byte[], byte[]>) kafkaRdd(rdd);
    boolean consumerCache = spark.sparkContext().conf().getBoolean("spark.streaming.kafka.consumer.cache.enabled", true);
    Slices sliced = new Slices(spark.sparkContext(), batch.kafkaParams(), slices(batch.offsetRanges(), tasks),
        batch.preferredHosts(), consumerCache);
    JavaRDD<Row> rows = sliced.toJavaRDD().map(r -> RowFactory.create(
        r.topic(), r.partition(), r.offset(), r.timestamp(), r.key(), r.value()));
    return spark.createDataFrame(rows, SOURCE_SCHEMA);
  }

  /**
   * A batch's slices. The first slice of each partition keeps the executor that the partition
   * prefers (where its consumer is cached); the others run wherever a core is free. Otherwise
   * Spark holds them for that one executor for up to spark.locality.wait (3 s): measured with a
   * 1-partition topic, the second core then idled ~40 % of each batch.
   */
  static final class Slices extends KafkaRDD<byte[], byte[]> {
    private static final long serialVersionUID = 1L;
    private static final scala.collection.immutable.Seq<String> ANYWHERE =
        scala.jdk.javaapi.CollectionConverters.asScala(new ArrayList<String>()).toList();
    private final Set<Integer> anywhere;

    Slices(org.apache.spark.SparkContext sc, Map<String, Object> params, OffsetRange[] slices,
        Map<TopicPartition, String> hosts, boolean consumerCache) {
      super(sc, params, slices, hosts, consumerCache);
      this.anywhere = new HashSet<>(notFirst(slices));
    }

    @Override
    public scala.collection.immutable.Seq<String> getPreferredLocations(org.apache.spark.Partition split) {
      return anywhere.contains(split.index()) ? ANYWHERE : super.getPreferredLocations(split);
    }
  }

  /** Indexes of the slices that do not start their partition's range (slices in {@link #slices}'s order). */
  public static List<Integer> notFirst(OffsetRange[] slices) {
    List<Integer> out = new ArrayList<>();
    for (int i = 1; i < slices.length; i++) {
      if (slices[i].topicPartition().equals(slices[i - 1].topicPartition())) {
        out.add(i);
      }
    }
    return out;
  }

  /**
   * {@code ranges} cut into about {@code tasks} consecutive slices in all, shared out by size,
   * at least one per range and at most one per record; empty ranges stay as they are.
   */
  public static OffsetRange[] slices(OffsetRange[] ranges, int tasks) {
    long total = 0;
    for (OffsetRange r : ranges) {
      total += r.count();
    }
    List<OffsetRange> out = new ArrayList<>();
    for (OffsetRange r : ranges) {
      long n = total == 0 ? 1 : Math.max(1, Math.min(r.count(), Math.round((double) tasks * r.count() / total)));
      for (long i = 0; i < n; i++) {
        long from = r.fromOffset() + r.count() * i / n;
        long until = r.fromOffset() + r.count() * (i + 1) / n;
        out.add(OffsetRange.create(r.topic(), r.partition(), from, until));
      }
    }
    return out.toArray(new OffsetRange[0]);
  }

  /** The active context's input stream with this id, as the object that can commit. */
  static CanCommitOffsets inputStream(int streamId) {
    scala.Option<StreamingContext> active = StreamingContext.getActive();
    if (active.isEmpty()) {
      throw new IllegalStateException("no active StreamingContext to commit offsets with");
    }
    for (InputDStream<?> stream : active.get().graph().getInputStreams()) {
      if (stream.id() == streamId) {
        if (!(stream instanceof CanCommitOffsets)) {
          throw new IllegalArgumentException("input stream " + streamId + " is not a Kafka direct stream");
        }
        return (CanCommitOffsets) stream;
      }
    }
    throw new IllegalArgumentException("the active StreamingContext has no input stream with id " + streamId);
  }

  /**
   * The one RDD that knows the batch's offsets, reached from {@code rdd} (a JavaRDD or an RDD
   * held by Python, possibly transformed) through narrow dependencies.
   */
  static RDD<?> kafkaRdd(Object rdd) {
    RDD<?> start = rdd instanceof JavaRDD ? ((JavaRDD<?>) rdd).rdd() : (RDD<?>) rdd;
    Deque<RDD<?>> todo = new ArrayDeque<>();
    Set<Integer> seen = new HashSet<>();
    todo.add(start);
    RDD<?> found = null;
    while (!todo.isEmpty()) {
      RDD<?> current = todo.poll();
      if (!seen.add(current.id())) {
        continue;
      }
      if (current instanceof HasOffsetRanges) {
        if (found != null) {
          throw new IllegalArgumentException("RDD " + start + " comes from more than one Kafka batch");
        }
        found = current;
        continue;
      }
      for (org.apache.spark.Dependency<?> dep : scala.jdk.javaapi.CollectionConverters.asJava(current.dependencies())) {
        if (dep instanceof org.apache.spark.NarrowDependency) {
          todo.add(dep.rdd());
        }
      }
    }
    if (found == null) {
      throw new IllegalArgumentException("RDD " + start + " does not come from a Kafka direct stream"
          + " through narrow dependencies");
    }
    return found;
  }

  /** The same rate limit for every partition. */
  static final class FixedRate extends PerPartitionConfig {
    private static final long serialVersionUID = 1L;
    private final long rate;

    FixedRate(long rate) {
      this.rate = rate;
    }

    @Override
    public long maxRatePerPartition(TopicPartition topicPartition) {
      return rate;
    }
  }
}
