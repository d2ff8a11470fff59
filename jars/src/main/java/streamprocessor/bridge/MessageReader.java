package streamprocessor.bridge;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.api.java.UDF1;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * The SQL function {@code read_message(value)}: a message's raw bytes, read in one pass, as typed
 * fields. {@code stream_processor/spark/messages_sql.py} calls it and turns its result into a rejection
 * reason or the message's columns; the contract's rules live there, this only reads.
 *
 * <p>Strict where Spark's JSON reader is lenient: UTF-8 only (no byte order mark, no UTF-16/32
 * guess), one JSON value and nothing after it, no duplicate keys, no NaN, a number is not a
 * string; base64 as Python's {@code base64.b64decode(validate=True)} takes it.
 */
public final class MessageReader implements UDF1<byte[], Row> {
  private static final long serialVersionUID = 1L;
  public static final String NAME = "read_message";

  /** {@code error}: why the value is not one JSON value in UTF-8, else null. The {@code *_type}
   * fields are JSON types (object, array, string, number, boolean, null), null when absent. */
  public static final StructType RESULT = new StructType()
      .add("error", DataTypes.StringType)
      .add("type", DataTypes.StringType)
      .add("username", DataTypes.StringType)
      .add("username_type", DataTypes.StringType)
      .add("image", DataTypes.BinaryType)
      .add("image_type", DataTypes.StringType)
      .add("image_error", DataTypes.StringType)
      .add("timestamp", DataTypes.StringType)
      // Set when the imageData text was read apart (PlainImage): the value without that text, and
      // where it went; with the image they give the value back (records.Message.raw_value).
      .add("rest", DataTypes.BinaryType)
      .add("image_at", DataTypes.IntegerType);

  static final int MAX_TIMESTAMP_CHARS = 200;
  private static final int MAX_DETAIL_CHARS = 200;
  private static final JsonFactory JSON = JsonFactory.builder()
      .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
      .disable(StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION)
      // Python's json (the contract's reference) reads these; keep to its bounds, not Jackson's.
      .streamReadConstraints(StreamReadConstraints.builder()
          .maxStringLength(Integer.MAX_VALUE).maxNameLength(Integer.MAX_VALUE)
          .maxNumberLength(4300).maxNestingDepth(990).build())
      .build();
  private static final byte[] BASE64 = new byte[128];
  /** Two ASCII characters ({@code c1 << 7 | c2}) -> their 12 bits, -1 outside the alphabet: half
   * the lookups of one table, which counts where the JIT is C1 (conf/spark-defaults.conf). */
  private static final short[] BASE64_PAIRS = new short[1 << 14];

  static {
    Arrays.fill(BASE64, (byte) -1);
    Arrays.fill(BASE64_PAIRS, (short) -1);
    String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < alphabet.length(); i++) {
      BASE64[alphabet.charAt(i)] = (byte) i;
      for (int j = 0; j < alphabet.length(); j++) {
        BASE64_PAIRS[alphabet.charAt(i) << 7 | alphabet.charAt(j)] = (short) (i << 6 | j);
      }
    }
  }

  /** Registers {@link #NAME} in the session (sessions do not share functions). Non-deterministic
   * only to the optimizer: it must not copy the call into each place that reads a field. */
  public static void register(SparkSession spark) {
    spark.udf().register(NAME, functions.udf(new MessageReader(), RESULT).asNondeterministic());
  }

  @Override
  public Row call(byte[] value) {
    if (value == null) {
      return null;
    }
    PlainImage plain = PlainImage.find(value);
    if (plain != null) {
      Row row = read(plain.withoutText(value), plain);
      if (row != null) {
        return row;
      }
    }
    return read(value, null);
  }

  /**
   * Reads {@code doc}. With {@code plain} (the fast path), {@code doc} is the value with that
   * string emptied: the result is the full reading only when the top-level imageData is that very
   * string and the rest reads cleanly; otherwise null, and the caller reads the value itself.
   */
  private static Row read(byte[] doc, PlainImage plain) {
    String problem = encodingProblem(doc);
    if (problem != null) {
      return plain == null ? failed(problem) : null;
    }
    boolean plainUsed = false;
    try (JsonParser p = JSON.createParser(doc)) {
      JsonToken root = p.nextToken();
      if (root == null) {
        return plain == null ? failed("no JSON value") : null;
      }
      String username = null;
      String usernameType = null;
      byte[] image = null;
      String imageType = null;
      String imageError = null;
      String timestamp = null;
      if (root == JsonToken.START_OBJECT) {
        while (p.nextToken() == JsonToken.FIELD_NAME) {
          String name = p.currentName();
          JsonToken token = p.nextToken();
          switch (name) {
            case "username":
              usernameType = typeOf(token);
              username = token == JsonToken.VALUE_STRING ? p.getText() : null;
              break;
            case "imageData":
              imageType = typeOf(token);
              if (plain != null) {
                if (token != JsonToken.VALUE_STRING || p.currentTokenLocation().getByteOffset() != plain.open) {
                  return null;
                }
                image = plain.image;
                plainUsed = true;
              } else if (token == JsonToken.VALUE_STRING) {
                try {
                  image = decodeImageData(p, doc);
                  imageError = null;
                } catch (IllegalArgumentException e) {
                  image = null;
                  imageError = e.getMessage();
                }
              }
              break;
            case "timestamp":
              timestamp = timestampText(p, token, doc);
              break;
            default:
              break;
          }
          p.skipChildren();
        }
      } else {
        p.skipChildren();
      }
      if (p.nextToken() != null) {
        return plain == null ? failed("data after the JSON value") : null;
      }
      if (plain != null && !plainUsed) {
        return null;
      }
      return RowFactory.create(null, typeOf(root), username, usernameType, image, imageType, imageError, timestamp,
          plainUsed ? doc : null, plainUsed ? plain.open : null);
    } catch (JsonProcessingException e) {
      return plain == null ? failed(firstLine(e.getOriginalMessage())) : null;
    } catch (IOException e) {
      return plain == null ? failed(firstLine(String.valueOf(e.getMessage()))) : null;
    }
  }

  /**
   * The fast path's guess at the top-level imageData: the first {@code "imageData"} followed by
   * a string whose text is valid base64 and nothing else (so no escape, and the first quote after
   * it closes it), decoded. A frame is ~1 MB: Jackson then parses the value without that text
   * (a few hundred bytes) instead of scanning it, and the UTF-8 check skips it (it is ASCII).
   */
  static final class PlainImage {
    private static final byte[] KEY = "\"imageData\"".getBytes(StandardCharsets.US_ASCII);
    final int open;
    final int close;
    final byte[] image;

    private PlainImage(int open, int close, byte[] image) {
      this.open = open;
      this.close = close;
      this.image = image;
    }

    static PlainImage find(byte[] value) {
      int key = indexOf(value, KEY);
      if (key < 0) {
        return null;
      }
      int i = skipSpace(value, key + KEY.length);
      if (i >= value.length || value[i] != ':') {
        return null;
      }
      int open = skipSpace(value, i + 1);
      if (open >= value.length || value[open] != '"') {
        return null;
      }
      // One pass: whole quads up to the last one (padded or not), which must end at a quote.
      byte[] quads = new byte[(value.length - open) / 4 * 3];
      int last = decodeQuads(value, open + 1, value.length, quads, 0);
      int close = last;
      while (close < value.length && close < last + 4 && value[close] != '"') {
        close++;
      }
      if (close >= value.length || value[close] != '"') {
        return null;
      }
      byte[] tail;
      try {
        tail = base64(value, last, close - last);
      } catch (IllegalArgumentException e) {  // not plain base64 (an escape, a bad character): the full reading says
        return null;
      }
      if (!canonicalEnd(value, last, close)) {  // the value could not be rebuilt from the image
        return null;
      }
      int n = (last - open - 1) / 4 * 3;
      byte[] image = Arrays.copyOf(quads, n + tail.length);
      System.arraycopy(tail, 0, image, n, tail.length);
      return new PlainImage(open, close, image);
    }

    /** Whether the last quad's unused bits are zero, as base64 encoders write them. */
    private static boolean canonicalEnd(byte[] value, int last, int close) {
      if (close - last != 4 || value[close - 1] != '=') {
        return true;
      }
      return value[close - 2] == '=' ? (digit(value[last + 1]) & 0xF) == 0 : (digit(value[last + 2]) & 0x3) == 0;
    }

    /** The value with this string's text removed: {@code "imageData": ""}. */
    byte[] withoutText(byte[] value) {
      byte[] doc = new byte[value.length - (close - open - 1)];
      System.arraycopy(value, 0, doc, 0, open + 1);
      System.arraycopy(value, close, doc, open + 1, value.length - close);
      return doc;
    }

    private static int indexOf(byte[] value, byte[] key) {
      outer:
      for (int i = 0, last = value.length - key.length; i <= last; i++) {
        for (int j = 0; j < key.length; j++) {
          if (value[i + j] != key[j]) {
            continue outer;
          }
        }
        return i;
      }
      return -1;
    }

    private static int skipSpace(byte[] value, int i) {
      while (i < value.length && (value[i] == ' ' || value[i] == '\t' || value[i] == '\n' || value[i] == '\r')) {
        i++;
      }
      return i;
    }
  }

  private static Row failed(String error) {
    return RowFactory.create(error, null, null, null, null, null, null, null, null, null);
  }

  /** Not UTF-8 as Python decodes it (strict: no surrogates, no overlong forms), or bytes that
   * make Jackson read another encoding (a NUL among the first four) or skip a byte order mark. */
  static String encodingProblem(byte[] value) {
    for (int i = 0; i < Math.min(4, value.length); i++) {
      if (value[i] == 0) {
        return "a NUL byte where JSON text must start";
      }
    }
    if (value.length >= 3 && value[0] == (byte) 0xEF && value[1] == (byte) 0xBB && value[2] == (byte) 0xBF) {
      return "a UTF-8 byte order mark";
    }
    for (byte b : value) {
      if (b < 0) {  // not ASCII: check the whole value once
        try {
          StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
              .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(value));
          return null;
        } catch (CharacterCodingException e) {
          return "not UTF-8";
        }
      }
    }
    return null;
  }

  /** A string as given; anything else as its JSON text as given (at most 200 characters); null
   * for JSON null. */
  private static String timestampText(JsonParser p, JsonToken token, byte[] value) throws IOException {
    switch (token) {
      case VALUE_NULL:
        return null;
      case VALUE_STRING:
        return p.getText();
      case START_OBJECT:
      case START_ARRAY:
        int start = (int) p.currentTokenLocation().getByteOffset();
        p.skipChildren();
        int end = (int) p.currentLocation().getByteOffset();
        return truncate(new String(value, start, end - start, StandardCharsets.UTF_8), MAX_TIMESTAMP_CHARS);
      default:
        return truncate(p.getText(), MAX_TIMESTAMP_CHARS);
    }
  }

  /**
   * The base64 text of the current string token, decoded. Its raw bytes are the text when it
   * holds no escape: decoded in place, without Jackson's copy into chars (a frame is ~1 MB).
   */
  private static byte[] decodeImageData(JsonParser p, byte[] value) throws IOException {
    int quote = (int) p.currentTokenLocation().getByteOffset();
    if (quote >= 0 && quote < value.length && value[quote] == '"') {
      int end = quote + 1;
      while (end < value.length && value[end] != '"' && value[end] != '\\' && value[end] >= 0x20) {
        end++;
      }
      if (end < value.length && value[end] == '"') {
        return base64(value, quote + 1, end - quote - 1);
      }
    }
    char[] chars = p.getTextCharacters();  // escapes: Jackson's reading of the text
    int offset = p.getTextOffset();
    byte[] text = new byte[p.getTextLength()];
    for (int i = 0; i < text.length; i++) {
      char c = chars[offset + i];
      text[i] = c < 128 ? (byte) c : (byte) '!';  // outside the alphabet either way
    }
    return base64(text, 0, text.length);
  }

  static String typeOf(JsonToken token) {
    switch (token) {
      case START_OBJECT: return "object";
      case START_ARRAY: return "array";
      case VALUE_STRING: return "string";
      case VALUE_NUMBER_INT:
      case VALUE_NUMBER_FLOAT: return "number";
      case VALUE_TRUE:
      case VALUE_FALSE: return "boolean";
      default: return "null";
    }
  }

  /**
   * Standard base64 as {@code base64.b64decode(s, validate=True)} takes it: the alphabet only,
   * then at most two "=": none, one or two after a whole number of quads, exactly two after 2
   * characters of a quad, exactly one after 3; never a quad of 1, never padding alone.
   *
   * @throws IllegalArgumentException naming what is wrong
   */
  static byte[] base64(byte[] text, int offset, int length) {
    int end = offset + length;
    int pad = 0;
    while (end > offset && text[end - 1] == '=') {
      end--;
      pad++;
    }
    int n = end - offset;
    if (pad > 2) {
      throw new IllegalArgumentException("more than two padding characters");
    }
    if (n == 0 && pad > 0) {
      throw new IllegalArgumentException("padding without data");
    }
    int rest = n % 4;
    if (rest == 1) {
      throw new IllegalArgumentException("number of data characters (" + n + ") cannot be 1 more than a multiple of 4");
    }
    if ((rest == 2 && pad != 2) || (rest == 3 && pad != 1)) {
      throw new IllegalArgumentException("incorrect padding");
    }
    byte[] out = new byte[n / 4 * 3 + (rest == 0 ? 0 : rest - 1)];
    int i = offset + n - rest;
    if (decodeQuads(text, offset, i, out, 0) != i) {
      throw notBase64();
    }
    int o = n / 4 * 3;
    if (rest > 0) {
      int a = digit(text[i]);
      int b = digit(text[i + 1]);
      int c = rest == 3 ? digit(text[i + 2]) : 0;
      if ((a | b | c) < 0) {
        throw notBase64();
      }
      int v = a << 18 | b << 12 | c << 6;
      out[o++] = (byte) (v >> 16);
      if (rest == 3) {
        out[o] = (byte) (v >> 8);
      }
    }
    return out;
  }

  /**
   * Decodes whole quads of the alphabet from {@code text[from]} on, stopping before {@code to} or
   * at the first quad with another character, into {@code out[at]} on; returns where it stopped.
   */
  static int decodeQuads(byte[] text, int from, int to, byte[] out, int at) {
    short[] pairs = BASE64_PAIRS;
    int i = from;
    for (int o = at; i + 3 < to; i += 4, o += 3) {
      int c0 = text[i];
      int c1 = text[i + 1];
      int c2 = text[i + 2];
      int c3 = text[i + 3];
      if ((c0 | c1 | c2 | c3) < 0) {
        break;
      }
      int high = pairs[c0 << 7 | c1];
      int low = pairs[c2 << 7 | c3];
      if ((high | low) < 0) {
        break;
      }
      int v = high << 12 | low;
      out[o] = (byte) (v >> 16);
      out[o + 1] = (byte) (v >> 8);
      out[o + 2] = (byte) v;
    }
    return i;
  }

  private static int digit(byte c) {
    return c >= 0 ? BASE64[c] : -1;
  }

  private static IllegalArgumentException notBase64() {
    return new IllegalArgumentException("a character outside the base64 alphabet (A-Z a-z 0-9 + /, \"=\" at the end)");
  }

  private static String firstLine(String text) {
    int newline = text.indexOf('\n');
    return truncate(newline < 0 ? text : text.substring(0, newline), MAX_DETAIL_CHARS);
  }

  private static String truncate(String text, int max) {
    return text.length() <= max ? text : text.substring(0, max);
  }
}
