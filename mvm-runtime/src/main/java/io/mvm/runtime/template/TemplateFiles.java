package io.mvm.runtime.template;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import io.mvm.core.template.TemplateConfig;
import io.mvm.core.template.TemplateConfigReader;
import io.mvm.model.MvmException;
import java.io.IOException;
import java.nio.charset.MalformedInputException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Reads a template file from disk: the TOML syntax here (Jackson), everything else in
 * {@link TemplateConfigReader}. A syntax error carries the parser's own line; every other problem
 * gets its line from the reader.
 */
public final class TemplateFiles {
    private static final TomlMapper TOML = new TomlMapper();
    private static final long MAX_TEMPLATE_FILE_BYTES = 1 << 20;

    private TemplateFiles() {}

    public static TemplateConfig readConfig(Path file) {
        String text;
        try {
            if (Files.size(file) > MAX_TEMPLATE_FILE_BYTES) {
                throw MvmException.invalid(file + " is larger than a template file can be (1 MiB)");
            }
            text = Files.readString(file);
        } catch (MalformedInputException e) {
            throw MvmException.invalid(file + " is not UTF-8 text");
        } catch (IOException e) {
            throw MvmException.notFound("cannot read template file " + file + ": " + e.getMessage());
        }
        return parseConfig(file.toString(), text);
    }

    public static TemplateConfig parseConfig(String sourceName, String text) {
        Map<String, Object> document;
        try {
            document = TOML.readValue(text, new TypeReference<>() {});
        } catch (JsonProcessingException e) {
            JsonLocation where = e.getLocation();
            int line = where == null ? 1 : where.getLineNr();
            throw TemplateConfigReader.syntaxError(sourceName, line, "TOML syntax: " + e.getOriginalMessage().lines().findFirst().orElse("invalid"));
        }
        return TemplateConfigReader.read(sourceName, text, document == null ? Map.of() : document);
    }
}
