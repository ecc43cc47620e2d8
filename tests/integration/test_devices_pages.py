# devbg: device background tasks for Linux
# SPDX-License-Identifier: LGPL-2.1-or-later
"""ListDevices in pages (issue 12), against the real devbgd and devbg-sim on
a private system bus: with [Service] MaxReplyBytes=65536 and a few hundred
simulated devices, every device comes once, in ID order, each page within
the bound; a device removed between pages does not break the list; a bad
continuation is refused; an app's pages hold only its declared devices;
libdevbg (devbgctl, an app through the test client) reads every page."""
import json
import os

from gi.repository import Gio, GLib

from devbgtest import (BUILD_DIR, DevbgSim, DevbgTestCase, TestApp, decode_devices_page,
                       list_devices, manifest_xml, wait_for)

IFACE = 'org.devbg.Devbg1.Devices'
ERR = 'org.devbg.Devbg1.Error.'
MAX_REPLY_BYTES = 65536
BANDS = 450
DOCKS = 60
APP = 'org.devbg.test.PagedDevices'
BAND_ONLY = ('<DeviceCapability Name="usb">'
             '<Device Id="vidpid:1209 B0A1"><Function Type="classId:ff * *"/></Device>'
             '</DeviceCapability>')
TEST_TASK = os.path.join(BUILD_DIR, 'tests', 'helpers', 'devbg-test-task')


def band_id(i):
    return 'virtual-B0A1-SB%04d' % i


def dock_id(i):
    return 'virtual-D0C1-SD%04d' % i


class DevicesPagesTest(DevbgTestCase):
    config = '[Service]\nEnableVirtualBackend=true\nMaxReplyBytes=%d\n' % MAX_REPLY_BYTES

    def setUp(self):
        super().setUp()
        task_exe, = self.copy_tasks(TEST_TASK)
        self.app = TestApp(self.tmpdir, 'paged-devices-app')
        self.devbgd.write_manifest('paged.xml', manifest_xml(
            APP, self.app.path, [('Test.Progress', ['deviceUse'], task_exe)], BAND_ONLY))
        self.devbgd.start()
        self.sim = DevbgSim(self.bus, self.tmpdir, ['--no-dock', '--no-band']).start()
        self.conn = Gio.DBusConnection.new_for_address_sync(
            self.bus.address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
            Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
        # Device ID -> the simulator's ID, to remove one.
        self.sim_ids = {}
        for kind, count, serial, make_id in (('band', BANDS, 'B0A1-SB%04d', band_id),
                                             ('dock', DOCKS, 'D0C1-SD%04d', dock_id)):
            for i in range(count):
                sim_id = self.sim_call('AddDevice', GLib.Variant(
                    '(sa{sv})', (kind, {'serial': GLib.Variant('s', serial % i)})))[0]
                self.sim_ids[make_id(i)] = sim_id
        self.all_ids = sorted(self.sim_ids)
        wait_for(lambda: len(list_devices(self.conn)) == len(self.all_ids), timeout=30,
                 what='every simulated device in devbgd')

    def tearDown(self):
        self.sim.stop()
        self.conn.close_sync(None)
        super().tearDown()

    def sim_call(self, method, args):
        return self.conn.call_sync('org.devbg.Sim1', '/org/devbg/Sim1', 'org.devbg.Sim1', method,
                                   args, None, Gio.DBusCallFlags.NONE, 10000, None).unpack()

    def page(self, continuation):
        """One raw page: ([(id, properties)], its size in bytes, next)."""
        reply = self.conn.call_sync('org.devbg.Devbg1', '/org/devbg/Devbg1', IFACE, 'ListDevices',
                                    GLib.Variant('(s)', (continuation,)), None,
                                    Gio.DBusCallFlags.NONE, 10000, None)
        data = reply.get_child_value(0).get_data_as_bytes().get_data()
        return decode_devices_page(data), len(data), reply.get_child_value(1).get_string()

    def check_pages(self, pages, ids):
        """@pages (list_devices' record) hold exactly @ids, in order, each
        page within the bound and continued by its last ID."""
        self.assertGreaterEqual(len(pages), 3, [(p[0], len(p[1])) for p in pages])
        listed = [i for _, page_ids, _ in pages for i in page_ids]
        self.assertEqual(listed, ids)
        for size, page_ids, following in pages:
            self.assertLessEqual(size, MAX_REPLY_BYTES)
            self.assertTrue(page_ids)
            self.assertEqual(following, page_ids[-1] if following else '')
        self.assertEqual(pages[-1][2], '')

    def test_every_device_once_in_order_within_the_bound(self):
        pages = []
        devices = list_devices(self.conn, pages)
        self.check_pages(pages, self.all_ids)
        # Full pages: the bound is used, not a handful per page.
        self.assertGreater(pages[0][0], MAX_REPLY_BYTES * 3 // 4)
        # The same properties as GetDevice's, but for its io-counter.
        for device_id, props in (devices[0], devices[-1], devices[len(devices) // 2]):
            one = self.conn.call_sync('org.devbg.Devbg1', '/org/devbg/Devbg1', IFACE,
                                      'GetDevice', GLib.Variant('(s)', (device_id,)), None,
                                      Gio.DBusCallFlags.NONE, 10000, None).unpack()[0]
            del one['io-counter']
            self.assertEqual(props, one)
        self.assertEqual(devices[0][1]['name'], 'devbg-sim fitness band')

    def test_removed_device_does_not_break_paging(self):
        first, _, following = self.page('')
        self.assertEqual(following, first[-1][0])
        after = self.all_ids.index(following)
        # The page's last device and the one the next page would start with.
        gone = [following, self.all_ids[after + 1]]
        for device_id in gone:
            self.sim_call('RemoveDevice', GLib.Variant('(s)', (self.sim_ids[device_id],)))
        wait_for(lambda: not set(gone) & {d for d, _ in list_devices(self.conn)},
                 what='the removed devices gone from devbgd')
        rest, continuation = [], following
        while continuation:
            entries, size, continuation = self.page(continuation)
            self.assertLessEqual(size, MAX_REPLY_BYTES)
            rest += [d for d, _ in entries]
        # The next page starts past both, and the list is whole without them.
        self.assertEqual(rest[0], self.all_ids[after + 2])
        self.assertEqual([d for d, _ in first[:-1]] + rest,
                         [d for d in self.all_ids if d not in gone])

    def test_bad_continuation_refused(self):
        for bad in ('x' * 1025, band_id(1) * 100):
            with self.assertRaisesRegex(GLib.Error, ERR + 'InvalidArgument') as cm:
                self.page(bad)
            self.assertIn('longer than a device ID (1024)', str(cm.exception))
        # At the limit, or not an ID at all: the devices that sort after it.
        entries, _, _ = self.page('virtual-C' + 'x' * 1015)
        self.assertEqual(entries[0][0], dock_id(0))
        entries, _, following = self.page('virtual-D0C1-SD0058x')
        self.assertEqual([d for d, _ in entries], [dock_id(59)])
        self.assertEqual(following, '')
        entries, size, following = self.page('zzz')
        self.assertEqual((entries, size, following), ([], 0, ''))
        # Nothing changed: the whole list is still there.
        self.assertEqual([d for d, _ in list_devices(self.conn)], self.all_ids)

    def test_app_pages_hold_only_its_declared_devices(self):
        bands = [d for d in self.all_ids if d.startswith('virtual-B0A1-')]
        # Raw pages, as the app asks for them.
        ids, continuation, pages = [], '', 0
        while True:
            line = self.app.ok(self.bus, 'call-devices', 'ListDevices',
                               '(%s,)' % GLib.Variant('s', continuation).print_(False))[0]
            page, following = GLib.Variant.parse(GLib.VariantType('(ays)'), line[3:], None,
                                                 None).unpack()
            self.assertLessEqual(len(page), MAX_REPLY_BYTES)
            entries = [d for d, _ in decode_devices_page(page)]
            self.assertTrue(entries)
            self.assertEqual(following, entries[-1] if following else '')
            ids += entries
            pages += 1
            if not following:
                break
            continuation = following
        self.assertGreaterEqual(pages, 2)
        # The docks sort after the last band: the last band page says no more.
        self.assertEqual(ids, bands)
        # Through libdevbg, as the app gets them.
        lines = self.app.ok(self.bus, 'devices')
        self.assertEqual(lines[1:], bands)

    def test_libdevbg_lists_every_device(self):
        out = self.devbgctl('--json', 'devices').stdout
        self.assertEqual([d['id'] for d in json.loads(out)], self.all_ids)
        table = self.devbgctl('devices').stdout
        for device_id in (self.all_ids[0], self.all_ids[-1], dock_id(0)):
            self.assertIn(device_id, table)


if __name__ == '__main__':
    import unittest
    unittest.main()
