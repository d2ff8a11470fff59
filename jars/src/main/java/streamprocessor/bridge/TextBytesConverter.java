package streamprocessor.bridge;

import org.apache.hadoop.io.Text;
import org.apache.spark.api.python.Converter;

/**
 * Hands a line read by Hadoop's TextInputFormat to Python as its raw bytes. PySpark's own
 * conversion goes through a String, which replaces bytes that are not UTF-8; `replay` must keep
 * them so that such a line is rejected as invalid_json and dead-lettered unchanged.
 */
public class TextBytesConverter implements Converter<Object, Object> {
    private static final long serialVersionUID = 1L;

    @Override
    public Object convert(Object obj) {
        return obj instanceof Text ? ((Text) obj).copyBytes() : obj;
    }
}
