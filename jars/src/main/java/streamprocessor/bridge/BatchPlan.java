package streamprocessor.bridge;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.catalyst.expressions.Alias;
import org.apache.spark.sql.catalyst.expressions.Attribute;
import org.apache.spark.sql.catalyst.expressions.NamedExpression;
import org.apache.spark.sql.catalyst.plans.logical.LeafNode;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.catalyst.plans.logical.Project;
import org.apache.spark.sql.classic.SparkSession;
import scala.Option;
import scala.jdk.javaapi.CollectionConverters;
import scala.runtime.AbstractPartialFunction;

/**
 * The batch's query (stream_processor/spark/batch.py), built and analysed once over an empty stand-in
 * source, then put on each batch's source. Building it anew cost the driver 0.3-0.5 s per batch
 * (SQL parsing, two Python UDFs, seven analyses, under C1), a pause in which every core waited.
 */
public final class BatchPlan {
  private final SparkSession spark;
  private final LogicalPlan query;
  private final List<Attribute> standInColumns;

  /** An empty batch (columns: {@link KafkaBridge#SOURCE_SCHEMA}) to build the query on. */
  public static Dataset<Row> standIn(SparkSession spark) {
    return spark.createDataFrame(Collections.<Row>emptyList(), KafkaBridge.SOURCE_SCHEMA);
  }

  /** {@code query}: built on {@code standIn} (from {@link #standIn}), which it reads once. */
  public BatchPlan(Dataset<Row> query, Dataset<Row> standIn) {
    this.spark = (SparkSession) query.sparkSession();
    this.query = query.queryExecution().analyzed();
    this.standInColumns = CollectionConverters.asJava(standIn.queryExecution().analyzed().output());
    if (standIns(this.query) != 1) {
      throw new IllegalArgumentException("the query does not read the stand-in source exactly once");
    }
  }

  /** The query on {@code source}, which has the stand-in's columns (names and types). */
  public Dataset<Row> on(Dataset<Row> source) {
    LogicalPlan given = source.queryExecution().analyzed();
    List<Attribute> columns = CollectionConverters.asJava(given.output());
    if (columns.size() != standInColumns.size()) {
      throw new IllegalArgumentException("the source has " + columns.size() + " columns, not " + standInColumns.size());
    }
    // The source's columns under the stand-in's ids, so that the query's references resolve to them.
    List<NamedExpression> renamed = new ArrayList<>();
    for (int i = 0; i < columns.size(); i++) {
      Attribute want = standInColumns.get(i);
      Attribute have = columns.get(i);
      if (!want.name().equals(have.name()) || !want.dataType().sameType(have.dataType())) {
        throw new IllegalArgumentException("source column " + i + " is " + describe(have) + ", not " + describe(want));
      }
      renamed.add(new Alias(have, want.name(), want.exprId(), want.qualifier(), Option.empty(),
          CollectionConverters.asScala(Collections.<String>emptyList()).toSeq()));
    }
    LogicalPlan input = new Project(CollectionConverters.asScala(renamed).toSeq(), given);
    return org.apache.spark.sql.classic.Dataset.ofRows(spark, replace(query, input));
  }

  private static String describe(Attribute column) {
    return column.name() + " " + column.dataType().simpleString();
  }

  private boolean isStandIn(LogicalPlan plan) {
    return plan instanceof LeafNode && CollectionConverters.asJava(plan.output()).equals(standInColumns);
  }

  private LogicalPlan replace(LogicalPlan plan, LogicalPlan input) {
    return plan.transformUp(new AbstractPartialFunction<LogicalPlan, LogicalPlan>() {
      @Override
      public boolean isDefinedAt(LogicalPlan node) {
        return isStandIn(node);
      }

      @Override
      public LogicalPlan apply(LogicalPlan node) {
        return input;
      }
    });
  }

  private int standIns(LogicalPlan plan) {
    int n = isStandIn(plan) ? 1 : 0;
    for (LogicalPlan child : CollectionConverters.asJava(plan.children())) {
      n += standIns(child);
    }
    return n;
  }
}
