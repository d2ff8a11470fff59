package streamprocessor.bridge;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;

import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * Writes a list of Kafka records as a Python pickle of
 * {@code [(topic, partition, offset, timestamp, key, value), ...]} with bytes/None key and value.
 *
 * <p>Why not Spark's Pyrolite {@code Pickler}: it speaks protocol 2 only and writes a
 * {@code byte[]} as {@code bytearray(latin1_string, "latin-1")}: a Java String per value,
 * UTF-8-encoded (about 1.5x the bytes on the wire), decoded and re-encoded in Python, and a
 * {@code bytearray} instead of {@code bytes} at the end. This fixed shape needs nine opcodes,
 * written straight into one exactly-sized buffer; Python's unpickler (protocol 3+) reads it.
 */
final class TuplePickle {
  private static final byte PROTO = (byte) 0x80;
  private static final byte EMPTY_LIST = ']';
  private static final byte MARK = '(';
  private static final byte APPENDS = 'e';
  private static final byte TUPLE = 't';
  private static final byte BINUNICODE = 'X';
  private static final byte BININT = 'J';
  private static final byte LONG1 = (byte) 0x8a;
  private static final byte BINBYTES = 'B';
  private static final byte NONE = 'N';
  private static final byte STOP = '.';

  private TuplePickle() {}

  /** Bytes one record takes in the pickle. */
  static long size(ConsumerRecord<byte[], byte[]> r) {
    return 1 + 5 + utf8Length(r.topic()) + 5 + 10 + 10 + bytesSize(r.key()) + bytesSize(r.value()) + 1;
  }

  static byte[] dumps(List<ConsumerRecord<byte[], byte[]>> records) {
    long total = 2 + 1 + 1 + 1 + 1;
    for (ConsumerRecord<byte[], byte[]> r : records) {
      total += size(r);
    }
    if (total > Integer.MAX_VALUE - 16) {
      throw new IllegalArgumentException("a pickled batch of " + total + " bytes is too large");
    }
    ByteBuffer out = ByteBuffer.allocate((int) total).order(ByteOrder.LITTLE_ENDIAN);
    out.put(PROTO).put((byte) 3).put(EMPTY_LIST).put(MARK);
    String lastTopic = null;
    byte[] topicBytes = null;
    for (ConsumerRecord<byte[], byte[]> r : records) {
      if (!r.topic().equals(lastTopic)) {
        lastTopic = r.topic();
        topicBytes = lastTopic.getBytes(StandardCharsets.UTF_8);
      }
      out.put(MARK);
      out.put(BINUNICODE).putInt(topicBytes.length).put(topicBytes);
      out.put(BININT).putInt(r.partition());
      out.put(LONG1).put((byte) 8).putLong(r.offset());
      out.put(LONG1).put((byte) 8).putLong(r.timestamp());
      putBytes(out, r.key());
      putBytes(out, r.value());
      out.put(TUPLE);
    }
    out.put(APPENDS).put(STOP);
    if (out.hasRemaining()) {
      throw new IllegalStateException("pickle size mismatch: " + out.remaining() + " bytes left");
    }
    return out.array();
  }

  private static void putBytes(ByteBuffer out, byte[] value) {
    if (value == null) {
      out.put(NONE);
    } else {
      out.put(BINBYTES).putInt(value.length).put(value);
    }
  }

  private static long bytesSize(byte[] value) {
    return value == null ? 1 : 5L + value.length;
  }

  private static int utf8Length(String s) {
    int n = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < 0x80) {
        n += 1;
      } else if (c < 0x800) {
        n += 2;
      } else if (Character.isHighSurrogate(c)) {
        n += 4;
        i++;
      } else {
        n += 3;
      }
    }
    return n;
  }
}
