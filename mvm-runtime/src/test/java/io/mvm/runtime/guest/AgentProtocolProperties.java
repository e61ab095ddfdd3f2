package io.mvm.runtime.guest;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.runtime.guest.AgentRequest.AgentField;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.LongRange;
import net.jqwik.api.constraints.Size;

class AgentProtocolProperties {

    @Property
    void anyBytesSurviveTheLineFramingAsOneLine(@ForAll @Size(max = 200) List<@Size(max = 64) byte[]> values,
                                                @ForAll @LongRange(min = 0, max = Long.MAX_VALUE) long id) {
        List<AgentField> fields = values.stream().map(v -> new AgentField("v", v)).toList();
        String line = AgentProtocol.encodeAnswer(1, id, true, fields);
        assertThat(line).endsWith(" .\n");
        assertThat(line.indexOf('\n')).isEqualTo(line.length() - 1);

        AgentProtocol.AgentAnswer decoded = AgentProtocol.decodeAnswer(line.substring(0, line.length() - 1));
        assertThat(decoded.id()).isEqualTo(id);
        assertThat(decoded.fields()).hasSameSizeAs(values);
        for (int i = 0; i < values.size(); i++) {
            assertThat(decoded.fields().get(i).value()).isEqualTo(values.get(i));
        }
    }
}
