package streamprocessor.bridge;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import org.apache.spark.SparkEnv;
import org.apache.spark.metrics.source.Source;
import org.apache.spark.streaming.api.java.JavaStreamingContext;
import org.apache.spark.streaming.scheduler.BatchInfo;
import org.apache.spark.streaming.scheduler.StreamingListener;
import org.apache.spark.streaming.scheduler.StreamingListenerBatchCompleted;

/**
 * The job's own counters and gauges as a source of Spark's metrics system, so that they appear
 * wherever Spark's sinks publish (the driver's {@code /metrics/prometheus} with
 * conf/metrics.properties). Python feeds it after each batch ({@code stream_processor/operations/metrics.py});
 * a streaming listener sets the last batch's delays. Names are dotted, e.g. {@code rejected.no_face};
 * the README's "Operating it" lists them.
 */
public final class JobMetrics implements Source {
  public static final String SOURCE_NAME = "StreamProcessor";
  private static JobMetrics instance;

  private final MetricRegistry registry = new MetricRegistry();
  private final Map<String, AtomicLong> gauges = new ConcurrentHashMap<>();

  private JobMetrics() {}

  /** The driver's source, registered with its metrics system on the first call. */
  public static synchronized JobMetrics get() {
    if (instance == null) {
      instance = new JobMetrics();
      SparkEnv.get().metricsSystem().registerSource(instance);
    }
    return instance;
  }

  @Override
  public String sourceName() {
    return SOURCE_NAME;
  }

  @Override
  public MetricRegistry metricRegistry() {
    return registry;
  }

  /** Adds {@code n} to counter {@code name} (created at 0: pass 0 to show it before it counts). */
  public void add(String name, long n) {
    registry.counter(name).inc(n);
  }

  /** Sets gauge {@code name}, creating it on first use. */
  public void set(String name, long value) {
    gauges.computeIfAbsent(name, key -> {
      AtomicLong holder = new AtomicLong();
      registry.gauge(key, () -> (Gauge<Long>) holder::get);
      return holder;
    }).set(value);
  }

  /** The current value of a counter or gauge (tests, and the job's own log). */
  public long value(String name) {
    AtomicLong gauge = gauges.get(name);
    return gauge != null ? gauge.get() : registry.counter(name).getCount();
  }

  /** Sets {@code lastBatch.processingMs} and {@code lastBatch.schedulingDelayMs} from Spark's own
   * batch information each time a batch completes (empty batches included). */
  public void listen(JavaStreamingContext jssc) {
    set("lastBatch.processingMs", 0);
    set("lastBatch.schedulingDelayMs", 0);
    jssc.addStreamingListener(new StreamingListener() {
      @Override
      public void onBatchCompleted(StreamingListenerBatchCompleted completed) {
        BatchInfo info = completed.batchInfo();
        if (info.processingDelay().isDefined()) {
          set("lastBatch.processingMs", (Long) info.processingDelay().get());
        }
        if (info.schedulingDelay().isDefined()) {
          set("lastBatch.schedulingDelayMs", (Long) info.schedulingDelay().get());
        }
      }
    });
  }
}
