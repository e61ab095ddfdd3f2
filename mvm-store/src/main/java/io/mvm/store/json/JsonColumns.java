package io.mvm.store.json;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** Lists and string maps kept in one TEXT column as JSON (portable across SQLite and PostgreSQL). */
public final class JsonColumns {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final TypeReference<List<String>> LIST = new TypeReference<>() {};
    private static final TypeReference<TreeMap<String, String>> MAP = new TypeReference<>() {};
    private static final TypeReference<List<TreeMap<String, String>>> MAPS = new TypeReference<>() {};

    private JsonColumns() {}

    public static String write(Object value) {
        try {
            return JSON.writeValueAsString(value instanceof Map<?, ?> m ? new TreeMap<>(m) : value);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("cannot encode a column value", e);
        }
    }

    public static List<String> list(String text) throws SQLException {
        try {
            return text == null ? List.of() : List.copyOf(JSON.readValue(text, LIST));
        } catch (JsonProcessingException e) {
            throw new SQLException("corrupt JSON list column", e);
        }
    }

    /** A JSON list of string maps. */
    public static List<Map<String, String>> maps(String text) throws SQLException {
        try {
            return text == null ? List.of() : List.copyOf(JSON.readValue(text, MAPS));
        } catch (JsonProcessingException e) {
            throw new SQLException("corrupt JSON list-of-maps column", e);
        }
    }

    public static Map<String, String> map(String text) throws SQLException {
        try {
            return text == null ? Map.of() : Map.copyOf(JSON.readValue(text, MAP));
        } catch (JsonProcessingException e) {
            throw new SQLException("corrupt JSON map column", e);
        }
    }
}
