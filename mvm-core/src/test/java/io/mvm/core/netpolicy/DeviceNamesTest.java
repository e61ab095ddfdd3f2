package io.mvm.core.netpolicy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.model.InstanceId;
import io.mvm.model.MvmException;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class DeviceNamesTest {

    @Test
    void bridgeNamesFitIfnamsizForEveryNetId() {
        assertThat(DeviceNames.bridge(0)).isEqualTo("mvb0");
        assertThat(DeviceNames.bridge(Integer.MAX_VALUE)).hasSizeLessThanOrEqualTo(DeviceNames.MAX_LENGTH)
                .startsWith("mv");
        assertThatThrownBy(() -> DeviceNames.bridge(-1)).isInstanceOf(MvmException.class);
    }

    @Test
    void tapNamesAreShortStableAndDistinct() {
        String longest = "x".repeat(63);
        assertThat(DeviceNames.tap(InstanceId.of(longest))).hasSize(14).startsWith("mvt");
        assertThat(DeviceNames.tap(InstanceId.of("web-1"))).isEqualTo(DeviceNames.tap(InstanceId.of("web-1")));
        Set<String> names = new HashSet<>();
        for (int i = 0; i < 20_000; i++) {
            String name = DeviceNames.tap(InstanceId.of("inst-" + i));
            assertThat(name).matches("mvt[0-9a-f]{11}");
            names.add(name);
        }
        assertThat(names).hasSize(20_000);
    }

    @Test
    void macsAreLocallyAdministeredUnicastStableAndDistinct() {
        Set<MacAddress> macs = new HashSet<>();
        for (int i = 0; i < 20_000; i++) {
            MacAddress mac = MacAddress.forInstance(InstanceId.of("inst-" + i));
            int first = Integer.parseInt(mac.value().substring(0, 2), 16);
            assertThat(first & 0x02).as("locally administered bit of %s", mac).isEqualTo(2);
            assertThat(first & 0x01).as("multicast bit of %s", mac).isZero();
            macs.add(mac);
        }
        assertThat(macs).hasSize(20_000);
        assertThat(MacAddress.forInstance(InstanceId.of("a"))).isEqualTo(MacAddress.forInstance(InstanceId.of("a")));
    }

    @Test
    void rejectsNamesThatWouldBreakCommandsOrRules() {
        assertThatThrownBy(() -> DeviceNames.requireValid("eth0\" accept", "uplink")).isInstanceOf(MvmException.class);
        assertThatThrownBy(() -> DeviceNames.requireValid("a".repeat(16), "uplink")).isInstanceOf(MvmException.class);
        assertThatThrownBy(() -> DeviceNames.requirePortName("tap-1")).isInstanceOf(MvmException.class);
        assertThat(DeviceNames.requireValid("eth0.100", "uplink")).isEqualTo("eth0.100");
        assertThatThrownBy(() -> MacAddress.parse("03:00:00:00:00:01")).hasMessageContaining("multicast");
    }
}
