/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Unit tests of the pure parts: config, manifests, metadata matching,
 * identity parsing, and the store.
 */
#include <glib/gstdio.h>
#include <limits.h>
#include <string.h>

#include "devbg-config.h"
#include "devbg-error.h"
#include "devbg-identity.h"
#include "devbg-manifest.h"
#include "devbg-metadata.h"
#include "devbg-names.h"
#include "devbg-store.h"

/* ---- config ---- */

static void
test_config_defaults (void)
{
  DevbgConfig c;

  devbg_config_init_defaults (&c);
  g_assert_cmpfloat (c.use_wall_clock_limit, ==, 600);
  g_assert_cmpfloat (c.servicing_wall_clock_limit, ==, 1800);
  g_assert_cmpfloat (c.max_expected_duration, ==, 1800);
  g_assert_cmpuint (c.min_battery_percent, ==, 33);
  g_assert_cmpfloat (c.io_activity_window, ==, 5);
  g_assert_cmpuint (c.cpu_floor_ms, ==, 400);
  g_assert_cmpfloat (c.cpu_window_locked, ==, 60);
  g_assert_cmpfloat (c.cpu_window_unlocked, ==, 300);
  g_assert_cmpfloat (c.cancel_grace_period, ==, 5);
  g_assert_true (devbg_config_protocol_allowed (&c, DEVBG_TRIGGER_USE, DEVBG_PROTOCOL_USB));
  g_assert_true (devbg_config_protocol_allowed (&c, DEVBG_TRIGGER_USE, DEVBG_PROTOCOL_BLUETOOTH_GATT));
  g_assert_false (devbg_config_protocol_allowed (&c, DEVBG_TRIGGER_USE, DEVBG_PROTOCOL_MTP));
  g_assert_true (devbg_config_protocol_allowed (&c, DEVBG_TRIGGER_SERVICING, DEVBG_PROTOCOL_MTP));
  g_assert_true (devbg_config_protocol_allowed (&c, DEVBG_TRIGGER_SERVICING, DEVBG_PROTOCOL_GENERIC_IOCTL));
  g_assert_false (devbg_config_protocol_allowed (&c, DEVBG_TRIGGER_SERVICING, DEVBG_PROTOCOL_UNKNOWN));
}

static void
test_config_errors_leave_config_unchanged (void)
{
  DevbgConfig c, before;
  g_autoptr(GError) error = NULL;
  const char *bad = "[Policy]\nUseWallClockLimit=2\nMinBatteryPercent=101\n";

  devbg_config_init_defaults (&c);
  before = c;
  g_assert_false (devbg_config_load_data (&c, bad, strlen (bad), "t.conf", &error));
  g_assert_error (error, DEVBG_ERROR, DEVBG_ERROR_BAD_CONFIG);
  g_assert_nonnull (strstr (error->message, "t.conf: [Policy] MinBatteryPercent=101"));
  g_assert_cmpmem (&c, sizeof c, &before, sizeof before);
}

/* What GKeyFile itself lets pass: a key with a locale, a key twice. */
static void
test_config_locale_and_repeated_keys (void)
{
  static const struct { const char *text; const char *message; } cases[] = {
    { "[Policy]\nRequireForeground[x]=false\n", "line 2: RequireForeground[x]: a key with a locale" },
    { "[Policy]\nMinBatteryPercent=10\n# c\nMinBatteryPercent=20\n",
      "line 4: [Policy] MinBatteryPercent is given a second time (first at line 2)" },
    { "[Policy]\nMinBatteryPercent=10\n[Service]\nEnableVirtualBackend=true\n"
      "[Policy]\nMinBatteryPercent = 20\n", "line 6: [Policy] MinBatteryPercent is given a second" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      DevbgConfig c;

      devbg_config_init_defaults (&c);
      g_assert_false (devbg_config_load_data (&c, cases[i].text, strlen (cases[i].text), "t.conf",
                                              &error));
      g_assert_error (error, DEVBG_ERROR, DEVBG_ERROR_BAD_CONFIG);
      if (strstr (error->message, cases[i].message) == NULL)
        g_error ("case %zu: '%s' lacks '%s'", i, error->message, cases[i].message);
    }
}

static void
test_config_round_trip (void)
{
  DevbgConfig c, back;
  g_autofree char *text = NULL;
  const char *in = "[Policy]\nUseWallClockLimit=0.25\nUseProtocols=hid\nHeadlessConsent=allow\n"
                   "[Service]\nEnableVirtualBackend=true\n";

  devbg_config_init_defaults (&c);
  g_assert_true (devbg_config_load_data (&c, in, strlen (in), "t", NULL));
  g_assert_cmpfloat (c.use_wall_clock_limit, ==, 0.25);
  g_assert_false (devbg_config_protocol_allowed (&c, DEVBG_TRIGGER_USE, DEVBG_PROTOCOL_USB));
  text = devbg_config_to_data (&c);
  devbg_config_init_defaults (&back);
  g_assert_true (devbg_config_load_data (&back, text, strlen (text), "t", NULL));
  g_assert_cmpmem (&c, sizeof c, &back, sizeof back);
}

/* ---- manifests ---- */

#define EXT(ep, exe, tasks) \
  "<Extension Category=\"windows.backgroundTasks\" EntryPoint=\"" ep "\" Executable=\"" exe "\">" \
  "<BackgroundTasks>" tasks "</BackgroundTasks></Extension>"

static void
test_manifest_parse (void)
{
  const char *xml =
    "<Application Id=\"org.example.App\" Executable=\"/usr/bin/app\" xmlns:m2=\"urn:x\">\n"
    "<uap:VisualElements DisplayName=\"Example Sync \xc3\xa9\" Description=\"d\" "
    "BackgroundColor=\"transparent\"><uap:DefaultTile Wide310x150Logo=\"w.png\"/>"
    "</uap:VisualElements>\n"
    "<Extensions>\n"
    EXT ("A.Sync", "/usr/libexec/tasks", "<m2:Task Type=\"deviceUse\"/>")
    "<Extension Category=\"windows.backgroundTasks\" EntryPoint=\"A.Both\">"
    "<BackgroundTasks><Task Type=\"deviceUse\"/><Task Type=\"deviceServicing\"/></BackgroundTasks>"
    "</Extension>"
    "</Extensions></Application>";
  g_autoptr(GError) error = NULL;
  g_autoptr(DevbgManifest) m = devbg_manifest_parse (xml, -1, "m.xml", &error);
  const DevbgEntryPoint *ep;

  g_assert_no_error (error);
  g_assert_cmpstr (m->app_id, ==, "org.example.App");
  g_assert_cmpstr (m->display_name, ==, "Example Sync \xc3\xa9");
  g_assert_cmpstr (m->executable, ==, "/usr/bin/app");
  ep = devbg_manifest_find_entry_point (m, "A.Sync");
  g_assert_cmpstr (ep->executable, ==, "/usr/libexec/tasks");
  g_assert_cmpuint (ep->triggers, ==, 1u << DEVBG_TRIGGER_USE);
  ep = devbg_manifest_find_entry_point (m, "A.Both");
  g_assert_cmpstr (ep->executable, ==, "/usr/bin/app"); /* inherits the app's */
  g_assert_cmpuint (ep->triggers, ==, (1u << DEVBG_TRIGGER_USE) | (1u << DEVBG_TRIGGER_SERVICING));
  g_assert_null (devbg_manifest_find_entry_point (m, "A.None"));
}

static void
test_manifest_errors (void)
{
  static const struct { const char *xml; const char *message; } cases[] = {
    { "<Application Id=\"nodots\"/>", "not a valid app ID" },
    { "<Application Id=\"org.1bad\"/>", "not a valid app ID" },
    { "<Package/>", "expected <Application>" },
    { "<Application Id=\"a.b\" Executable=\"rel/path\"/>", "not an absolute path" },
    { "<Application Id=\"a.b\" Colour=\"red\"/>", "unknown attribute Colour" },
    { "<Application Id=\"a.b\"><Capabilities><DeviceCapability Name=\"usb\"><Device Id=\"vidpid:12 34\"/>"
      "</DeviceCapability></Capabilities></Application>", "Device Id 'vidpid:12 34'" },
    { "<Application Id=\"a.b\"><Capabilities><DeviceCapability Name=\"usb\"><Device Id=\"any\">"
      "<Function Type=\"usage:0001 0002\"/></Device></DeviceCapability></Capabilities></Application>",
      "Function Type 'usage:0001 0002' is not valid" },
    { "<Application Id=\"a.b\"><Capabilities><DeviceCapability Name=\"bluetooth.rfcomm\">"
      "<Device Id=\"any\"/></DeviceCapability></Capabilities></Application>", "needs a Function" },
    { "<Application Id=\"a.b\"><Extensions>" EXT ("E", "/x", "")
      "</Extensions></Application>", "declares no task type" },
    { "<Application Id=\"a.b\"><Extensions>" EXT ("bad name", "/x", "<Task Type=\"deviceUse\"/>")
      "</Extensions></Application>", "EntryPoint 'bad name'" },
    { "<Application Id=\"a.b\"><Extensions><Extension Category=\"windows.backgroundTasks\" "
      "EntryPoint=\"E\"><BackgroundTasks><Task Type=\"deviceUse\"/></BackgroundTasks></Extension>"
      "</Extensions></Application>", "names no Executable" },
    { "<Application Id=\"a.b\"><Extensions>" EXT ("E", "/x", "<Task Type=\"deviceUse\"/>")
      EXT ("E", "/y", "<Task Type=\"deviceUse\"/>") "</Extensions></Application>",
      "declared twice with different executables" },
    { "<Application Id=\"a.b\">\n<Extensions>\n<Oops/>", "line 3" },
    { "<Application Id=\"a.b\">text</Application>", "unexpected text" },
    { "", "empty" },
    { "<Application Id=\"a.b\"/><Application Id=\"a.b\"/>", "one app per manifest" }, /* fuzz */
    { "<!-- nothing -->", "no <Application>" },
    { "<Application Id=\"a.b\"><VisualElements DisplayName=\"\"/></Application>",
      "DisplayName is not a name to show" },
    { "<Application Id=\"a.b\"><VisualElements DisplayName=\"   \"/></Application>",
      "DisplayName is not a name to show" },
    { "<Application Id=\"a.b\"><VisualElements DisplayName=\"a&#27;[2Jb\"/></Application>",
      "DisplayName is not a name to show" },
    /* U+202E, right-to-left override: "Sync" read as "cnyS" */
    { "<Application Id=\"a.b\"><VisualElements DisplayName=\"\xe2\x80\xaeSync\"/></Application>",
      "a control, format" },
    { "<Application Id=\"a.b\"><VisualElements DisplayName=\"a&#x2028;b\"/></Application>",
      "DisplayName is not a name to show" },
    { "<Application Id=\"a.b\"><VisualElements DisplayName=\""
      "12345678901234567890123456789012345678901\"/></Application>",
      "not 1 to 40 characters" },
    { "<Application Id=\"a.b\"><VisualElements DisplayName=\"A\"/>"
      "<VisualElements DisplayName=\"B\"/></Application>", "an app has one name" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(DevbgManifest) m = devbg_manifest_parse (cases[i].xml, -1, "bad.xml", &error);

      g_assert_null (m);
      g_assert_error (error, DEVBG_ERROR, DEVBG_ERROR_BAD_MANIFEST);
      if (strstr (error->message, cases[i].message) == NULL)
        g_error ("case %zu: '%s' lacks '%s'", i, error->message, cases[i].message);
      g_assert_true (g_str_has_prefix (error->message, "bad.xml: "));
    }
}

/* A manifest of @n extensions (entry points E0, E1, ... or all "E" when
 * @same_name), @devices <Device> declarations and @functions <Function>
 * elements in the first one. */
static char *
manifest_of_size (guint n, gboolean same_name, guint devices, guint functions)
{
  GString *xml = g_string_new ("<Application Id=\"a.b\" Executable=\"/x\">\n<Extensions>\n");

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *name = same_name ? g_strdup ("E") : g_strdup_printf ("E%u", i);
      g_string_append_printf (xml, "<Extension Category=\"windows.backgroundTasks\" "
                              "EntryPoint=\"%s\"><BackgroundTasks><Task Type=\"deviceUse\"/>"
                              "</BackgroundTasks></Extension>\n", name);
    }
  g_string_append (xml, "</Extensions>\n<Capabilities><DeviceCapability Name=\"usb\">\n");
  for (guint i = 0; i < devices; i++)
    {
      g_string_append_printf (xml, "<Device Id=\"vidpid:1209 %04X\">", i);
      for (guint f = 0; i == 0 && f < functions; f++)
        g_string_append (xml, "<Function Type=\"classId:ff * *\"/>");
      g_string_append (xml, "</Device>\n");
    }
  g_string_append (xml, "</DeviceCapability></Capabilities></Application>\n");
  return g_string_free (xml, FALSE);
}

static void
expect_limit (const char *xml, const char *message)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DevbgManifest) m = devbg_manifest_parse (xml, -1, "big.xml", &error);

  g_assert_null (m);
  g_assert_error (error, DEVBG_ERROR, DEVBG_ERROR_BAD_MANIFEST);
  if (strstr (error->message, message) == NULL || !g_str_has_prefix (error->message, "big.xml: ") ||
      strstr (error->message, "line ") == NULL)
    g_error ("'%s' lacks the file, its line or '%s'", error->message, message);
}

/* Entry points, <Device>s and their <Function>s are bounded: each entry
 * point is compared with every one before it, and every device an app
 * lists is checked against every declaration. At the limit a manifest
 * loads; past it, it is refused with the limit named. */
static void
test_manifest_limits (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *at_limit = manifest_of_size (DEVBG_MAX_ENTRY_POINTS, FALSE,
                                                DEVBG_MAX_DEVICE_DECLARATIONS,
                                                DEVBG_MAX_DEVICE_FUNCTIONS);
  g_autofree char *same = manifest_of_size (DEVBG_MAX_ENTRY_POINTS * 2, TRUE, 1, 1);
  g_autofree char *eps = manifest_of_size (DEVBG_MAX_ENTRY_POINTS + 1, FALSE, 1, 1);
  g_autofree char *devices = manifest_of_size (1, FALSE, DEVBG_MAX_DEVICE_DECLARATIONS + 1, 1);
  g_autofree char *functions = manifest_of_size (1, FALSE, 1, DEVBG_MAX_DEVICE_FUNCTIONS + 1);
  g_autoptr(DevbgManifest) m = devbg_manifest_parse (at_limit, -1, "big.xml", &error);
  g_autoptr(DevbgManifest) one = NULL;

  g_assert_no_error (error);
  g_assert_cmpuint (m->entry_points->len, ==, DEVBG_MAX_ENTRY_POINTS);
  g_assert_cmpuint (m->devices->len, ==, DEVBG_MAX_DEVICE_DECLARATIONS);
  /* The same entry point declared again is the same one, not one more. */
  one = devbg_manifest_parse (same, -1, "big.xml", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (one->entry_points->len, ==, 1);
  expect_limit (eps, "entry point 'E256' is past the limit: a manifest declares at most 256 "
                "entry points (DEVBG_MAX_ENTRY_POINTS)");
  expect_limit (devices, "more than 256 <Device> declarations; a manifest holds at most 256 "
                "(DEVBG_MAX_DEVICE_DECLARATIONS)");
  expect_limit (functions, "more than 64 <Function> elements in one <Device>; it holds at "
                "most 64 (DEVBG_MAX_DEVICE_FUNCTIONS)");
}

/* What error messages quote of a manifest is bounded: the entry points a
 * refused Register lists (the first 10, then how many more), and an
 * executable path (a failed start quotes it) no longer than a program's. */
static void
test_manifest_quoted_bounded (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *xml = manifest_of_size (DEVBG_MAX_ENTRY_POINTS, FALSE, 1, 1);
  g_autoptr(DevbgManifest) m = devbg_manifest_parse (xml, -1, "big.xml", &error);
  g_autofree char *listed = NULL;
  g_autofree char *few_xml = manifest_of_size (2, FALSE, 1, 1);
  g_autoptr(DevbgManifest) few = devbg_manifest_parse (few_xml, -1, "few.xml", &error);
  g_autofree char *few_listed = NULL;
  g_autofree char *long_path = g_strnfill (PATH_MAX, 'x');
  g_autofree char *long_xml = NULL;

  g_assert_no_error (error);
  listed = devbg_manifest_list_entry_points (m);
  g_assert_true (g_str_has_prefix (listed, "'E0' (deviceUse), 'E1' (deviceUse), "));
  g_assert_true (g_str_has_suffix (listed, "'E9' (deviceUse) and 246 more"));
  g_assert_null (strstr (listed, "'E10'"));
  few_listed = devbg_manifest_list_entry_points (few);
  g_assert_cmpstr (few_listed, ==, "'E0' (deviceUse), 'E1' (deviceUse)");

  long_path[0] = '/';
  long_xml = g_strdup_printf ("<Application Id=\"a.b\" Executable=\"%s\"/>", long_path);
  g_assert_null (devbg_manifest_parse (long_xml, -1, "long.xml", &error));
  g_assert_error (error, DEVBG_ERROR, DEVBG_ERROR_BAD_MANIFEST);
  g_assert_nonnull (strstr (error->message, "Executable is longer than 4095 bytes"));
  g_assert_cmpuint (strlen (error->message), <, 200);
}

static DevbgManifest *
parse_ok (const char *xml)
{
  g_autoptr(GError) error = NULL;
  DevbgManifest *m = devbg_manifest_parse (xml, -1, "m.xml", &error);

  g_assert_no_error (error);
  return m;
}

/* A typo in a task type or category drops the entry point, not the
 * manifest (the rest of a Windows manifest is no reason to refuse it):
 * what was ignored is kept to be said, likely typos named as such and
 * first, at most 8 of them. */
static void
test_manifest_ignored (void)
{
  g_autoptr(DevbgManifest) task_typo = parse_ok (
    "<Application Id=\"a.b\"><Extensions>" EXT ("Gadget.Sync", "/x", "<Task Type=\"deviceuse\"/>")
    "</Extensions></Application>");
  g_autoptr(DevbgManifest) category_typo = parse_ok (
    "<Application Id=\"a.b\"><Extensions><Extension Category=\"windows.backgroundTask\" "
    "EntryPoint=\"Gadget.Sync\" Executable=\"/x\"><BackgroundTasks><Task Type=\"deviceUse\"/>"
    "</BackgroundTasks></Extension></Extensions></Application>");
  g_autoptr(DevbgManifest) windows = parse_ok (
    "<Application Id=\"a.b\"><Extensions>"
    EXT ("A.Sync", "/x", "<Task Type=\"deviceUse\"/><Task Type=\"timer\"/>")
    "<Extension Category=\"windows.fileTypeAssociation\"><Whatever/></Extension>"
    EXT ("A.Servicing", "/x", "<Task Type=\"deviceServicng\"/>")
    "</Extensions></Application>");
  g_autoptr(DevbgManifest) clean = parse_ok (
    "<Application Id=\"a.b\"><Extensions>" EXT ("A.Sync", "/x", "<Task Type=\"deviceUse\"/>")
    "</Extensions></Application>");
  g_autoptr(GString) many_xml = g_string_new ("<Application Id=\"a.b\"><Extensions>");
  g_autoptr(DevbgManifest) many = NULL;
  g_autofree char *text = NULL;
  g_autofree char *long_xml = NULL;
  g_autoptr(DevbgManifest) long_category = NULL;

  g_assert_cmpuint (task_typo->entry_points->len, ==, 0);
  text = devbg_manifest_describe (task_typo);
  g_assert_cmpstr (text, ==, "0 entry points; ignored: Task Type 'deviceuse' of entry point "
                   "'Gadget.Sync' (not deviceUse or deviceServicing; likely a typo of "
                   "'deviceUse': names are case-sensitive)");
  g_clear_pointer (&text, g_free);

  g_assert_cmpuint (category_typo->entry_points->len, ==, 0);
  text = devbg_manifest_describe_ignored (category_typo);
  g_assert_cmpstr (text, ==, "Extension Category 'windows.backgroundTask' of entry point "
                   "'Gadget.Sync' (not windows.backgroundTasks; likely a typo of "
                   "'windows.backgroundTasks')");
  g_clear_pointer (&text, g_free);

  /* A real Windows manifest loads; what is not devbg's is said so, plainly,
   * and the typo first. */
  g_assert_cmpuint (windows->entry_points->len, ==, 1);
  text = devbg_manifest_describe (windows);
  g_assert_cmpstr (text, ==, "1 entry point; ignored: Task Type 'deviceServicng' of entry point "
                   "'A.Servicing' (not deviceUse or deviceServicing; likely a typo of "
                   "'deviceServicing'); Task Type 'timer' of entry point 'A.Sync' (not deviceUse "
                   "or deviceServicing); Extension Category 'windows.fileTypeAssociation' (not "
                   "windows.backgroundTasks)");
  g_clear_pointer (&text, g_free);

  g_assert_null (devbg_manifest_describe_ignored (clean));
  text = devbg_manifest_describe (clean);
  g_assert_cmpstr (text, ==, "1 entry point");
  g_clear_pointer (&text, g_free);

  /* Bounded: 8 kept, the typo among 20 others still first. */
  for (guint i = 0; i < 20; i++)
    g_string_append_printf (many_xml, "<Extension Category=\"windows.other%u\"/>", i);
  g_string_append (many_xml, EXT ("A.Late", "/x", "<Task Type=\"DeviceUse\"/>")
                   "</Extensions></Application>");
  many = parse_ok (many_xml->str);
  g_assert_cmpuint (many->ignored->len, ==, DEVBG_MANIFEST_MAX_IGNORED);
  g_assert_cmpuint (many->n_ignored, ==, 21);
  text = devbg_manifest_describe_ignored (many);
  g_assert_true (g_str_has_prefix (text, "Task Type 'DeviceUse' of entry point 'A.Late'"));
  g_assert_true (g_str_has_suffix (text, "'windows.other6' (not windows.backgroundTasks) "
                                   "and 13 more"));
  g_clear_pointer (&text, g_free);

  /* What is quoted of the manifest's words is bounded. */
  {
    g_autofree char *category = g_strnfill (100000, 'c');
    long_xml = g_strdup_printf ("<Application Id=\"a.b\"><Extensions><Extension Category=\"%s\" "
                                "EntryPoint=\"%s\"/></Extensions></Application>",
                                category, category);
  }
  long_category = parse_ok (long_xml);
  text = devbg_manifest_describe_ignored (long_category);
  g_assert_cmpuint (strlen (text), <, 300);
}

static void
test_manifest_display_name (void)
{
  static const struct { const char *xml; const char *name; } cases[] = {
    { "<Application Id=\"a.b\"/>", NULL },
    { "<Application Id=\"a.b\"><VisualElements Description=\"x\"/></Application>", NULL },
    /* A resource reference names nothing devbgd can read. */
    { "<Application Id=\"a.b\"><VisualElements DisplayName=\"ms-resource:AppName\"/>"
      "</Application>", NULL },
    /* 40 characters of two bytes each: the limit counts characters. */
    { "<Application Id=\"a.b\"><VisualElements DisplayName=\""
      "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
      "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
      "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
      "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
      "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"/>"
      "</Application>", NULL /* checked below */ },
    { "<Application Id=\"a.b\"><VisualElements DisplayName=\"Fitness &amp; Co\"/>"
      "</Application>", "Fitness & Co" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(DevbgManifest) m = devbg_manifest_parse (cases[i].xml, -1, "n.xml", &error);

      g_assert_no_error (error);
      if (i == 3)
        g_assert_cmpint (g_utf8_strlen (m->display_name, -1), ==, DEVBG_MAX_DISPLAY_NAME);
      else
        g_assert_cmpstr (m->display_name, ==, cases[i].name);
    }
}

#define FIFTY(s) s s s s s s s s s s s s s s s s s s s s s s s s s s s s s s s s s s s s s s s s \
                 s s s s s s s s s s
#define TWENTY(s) s s s s s s s s s s s s s s s s s s s s

/* Names that would hide the app ID beside them in a consent prompt, or
 * fake another ID or devbgd itself, are refused; real names, in any
 * script, are not. */
static void
test_manifest_display_name_spoofing (void)
{
  static const char *const refused[] = {
    /* Fillers and blanks: push "(com.evil.Pad)" off a notification's first
     * line, or look empty. */
    "GNOME Firmware" FIFTY ("&#x3164;"),
    "GNOME Firmware" TWENTY ("&#x3164;"),
    "GNOME Firmware" TWENTY ("&#x2800;"),
    "GNOME Firmware" TWENTY ("&#x3000;"),
    "&#x3164;", "&#x115F;", "&#x1160;", "&#xFFA0;", "&#x2800;",
    "A&#x180B;", "A&#x180E;", "A&#xFE0F;", "A&#xE0041;", "A&#x034F;", "A&#x200B;",
    /* Spaces other than one U+0020 between words. */
    "A&#x3000;B", "A&#xA0;B", "A&#x2003;B", "A  B", " A", "A ", " ",
    /* Another ID, or devbgd. */
    "GNOME Firmware (org.gnome.Firmware)", "devbgd: system firmware check",
    "A [b]", "A &lt;b&gt;", "A &quot;b&quot;", "A &#xFF08;org.gnome.Firmware&#xFF09;",
    "devbgd&#xFF1A; check",
    /* Stacked combining marks, or a mark on nothing. */
    "Ok" TWENTY ("&#x336;") "&#x336;&#x336;&#x336;&#x336;&#x336;&#x336;&#x336;&#x336;&#x336;&#x336;"
    TWENTY ("&#x20E0;"),
    "Ok&#x336;&#x336;&#x336;", "&#x301;Ok", "Ok &#x301;",
  };
  static const char *const accepted[] = {
    "Example Sync", "Fitness &amp; Co", "Caf\xc3\xa9 Sync", "Cafe\xcc\x81 Sync",
    "A&#x336;&#x336;", "Bob's Sync 2.0", "Sync-It!", "Sync, Inc.",
    "\xe5\x86\x99\xe7\x9c\x9f\xe5\x90\x8c\xe6\x9c\x9f",  /* 写真同期 */
    "\xe8\xae\xbe\xe5\xa4\x87\xe5\x90\x8c\xe6\xad\xa5",  /* 设备同步 */
    "\xd9\x85\xd8\xb2\xd8\xa7\xd9\x85\xd9\x86\xd8\xa9 \xd8\xa7\xd9\x84\xd8\xac\xd9\x87\xd8\xa7\xd8\xb2",  /* مزامنة الجهاز */
    "\xe0\xa4\xb9\xe0\xa4\xbf\xe0\xa4\x82\xe0\xa4\xa6\xe0\xa5\x80 \xe0\xa4\xb8\xe0\xa4\xbf\xe0\xa4\x82\xe0\xa4\x95",  /* हिंदी सिंक */
    "\xd7\xa1\xd7\xa0\xd7\x9b\xd7\xa8\xd7\x95\xd7\x9f Sync", /* Hebrew: the agents isolate it */
  };

  for (gsize i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *xml = g_strdup_printf ("<Application Id=\"a.b\"><VisualElements "
                                              "DisplayName=\"%s\"/></Application>", refused[i]);
      g_autoptr(DevbgManifest) m = devbg_manifest_parse (xml, -1, "n.xml", &error);

      if (m != NULL)
        g_error ("refused[%zu] '%s' was accepted", i, refused[i]);
      g_assert_error (error, DEVBG_ERROR, DEVBG_ERROR_BAD_MANIFEST);
      g_assert_nonnull (strstr (error->message, "DisplayName is not a name to show"));
    }
  for (gsize i = 0; i < G_N_ELEMENTS (accepted); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *xml = g_strdup_printf ("<Application Id=\"a.b\"><VisualElements "
                                              "DisplayName=\"%s\"/></Application>", accepted[i]);
      g_autoptr(DevbgManifest) m = devbg_manifest_parse (xml, -1, "n.xml", &error);

      if (error != NULL)
        g_error ("accepted[%zu] '%s': %s", i, accepted[i], error->message);
      g_assert_nonnull (m->display_name);
    }
}

static void
test_app_id (void)
{
  g_assert_true (devbg_app_id_is_valid ("org.example.App"));
  g_assert_true (devbg_app_id_is_valid ("org.example.my-app_2"));
  g_assert_false (devbg_app_id_is_valid ("org"));
  g_assert_false (devbg_app_id_is_valid ("org..x"));
  g_assert_false (devbg_app_id_is_valid ("org.x."));
  g_assert_false (devbg_app_id_is_valid ("org.x/y"));
  g_assert_false (devbg_app_id_is_valid (NULL));
}

/* A manifest whose executable did not exist at load: its path as written
 * is compared without touching the file system; a resolved one never
 * counts as appeared; a sandbox's manifest never identifies by path. */
static void
test_manifest_executable_appeared (void)
{
  g_autofree char *dir = g_dir_make_tmp ("devbg-late-XXXXXX", NULL);
  g_autofree char *late = g_build_filename (dir, "late-app", NULL);
  g_autofree char *xml = g_strdup_printf (
    "<Application Id=\"org.example.Late\" Executable=\"%s\"><Extensions/></Application>", late);
  g_autofree char *present_xml = g_strdup_printf (
    "<Application Id=\"org.example.Present\" Executable=\"%s\"><Extensions/></Application>",
    dir);
  g_autofree char *present_real = realpath (dir, NULL);
  g_autoptr(GHashTable) apps = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                                      (GDestroyNotify) devbg_manifest_unref);
  g_autoptr(GError) error = NULL;
  DevbgManifest *m = devbg_manifest_parse (xml, -1, "late.xml", &error);
  DevbgManifest *present = devbg_manifest_parse (present_xml, -1, "present.xml", &error);

  g_assert_no_error (error);
  present->executable_real = g_strdup (present_real); /* as a load resolves it */
  g_hash_table_insert (apps, m->app_id, m);
  g_hash_table_insert (apps, present->app_id, present);

  g_assert_true (devbg_manifests_executable_appeared (apps, late, FALSE));
  g_assert_false (devbg_manifests_executable_appeared (apps, "/usr/bin/other", FALSE));
  g_assert_false (devbg_manifests_executable_appeared (apps, present_real, TRUE));
  /* Through a symlink: found only when resolving is allowed. */
  {
    g_autofree char *link = g_build_filename (dir, "link-app", NULL);
    g_autofree char *target = g_build_filename (dir, "target-app", NULL);
    g_autofree char *link_xml = g_strdup_printf (
      "<Application Id=\"org.example.Link\" Executable=\"%s\"><Extensions/></Application>",
      link);
    DevbgManifest *l = devbg_manifest_parse (link_xml, -1, "link.xml", &error);
    g_autofree char *target_real = NULL;

    g_assert_no_error (error);
    g_hash_table_insert (apps, l->app_id, l);
    g_assert_true (g_file_set_contents (target, "", 0, NULL));
    g_assert_cmpint (symlink (target, link), ==, 0);
    target_real = realpath (target, NULL);
    g_assert_false (devbg_manifests_executable_appeared (apps, target_real, FALSE));
    g_assert_true (devbg_manifests_executable_appeared (apps, target_real, TRUE));
    g_unlink (link);
    g_unlink (target);
  }
  g_rmdir (dir);
}

/* ---- metadata ---- */

static DevbgMetadata *
md_parse (const char *xml)
{
  g_autoptr(GError) error = NULL;
  DevbgMetadata *md = devbg_metadata_parse (xml, -1, "md.xml", &error);

  g_assert_no_error (error);
  return md;
}

static void
test_metadata_match (void)
{
  g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func ((GDestroyNotify) devbg_metadata_unref);
  DevbgMetadata *by_model, *by_rev, *by_pid;
  const char *hw[] = { "USB\\VID_1209&PID_D0C1&REV_0100", "USB\\VID_1209&PID_D0C1", NULL };
  const char *hw_other_rev[] = { "usb\\vid_1209&pid_d0c1&rev_0200", "usb\\vid_1209&pid_d0c1", NULL };

  by_pid = md_parse ("<DeviceMetadata><HardwareIds><HardwareId>USB\\VID_1209&amp;PID_D0C1"
                     "</HardwareId></HardwareIds><SoftwareInfo><PrivilegedApplications>"
                     "<Package><Identity Name=\"org.a.Generic\"/></Package>"
                     "</PrivilegedApplications></SoftwareInfo></DeviceMetadata>");
  by_rev = md_parse ("<DeviceMetadata><HardwareIds><HardwareId>USB\\VID_1209&amp;PID_D0C1&amp;REV_0100"
                     "</HardwareId></HardwareIds><SoftwareInfo><PrivilegedApplications>"
                     "<Package><Identity><Name>org.a.Rev</Name></Identity></Package>"
                     "</PrivilegedApplications></SoftwareInfo></DeviceMetadata>");
  by_model = md_parse ("<DeviceMetadata><ModelId>{5A1D0C11-6A0E-4C47-9D3C-2F1E0B5D0C01}</ModelId>"
                       "<SoftwareInfo><PrivilegedApplications><AnyApplication/>"
                       "</PrivilegedApplications></SoftwareInfo></DeviceMetadata>");
  /* Order in the array must not matter: most specific wins. */
  g_ptr_array_add (all, by_pid);
  g_ptr_array_add (all, by_rev);
  g_ptr_array_add (all, by_model);

  g_assert_true (devbg_metadata_match (all, NULL, hw) == by_rev);
  g_assert_true (devbg_metadata_match (all, NULL, hw_other_rev) == by_pid);
  g_assert_true (devbg_metadata_match (all, "5a1d0c11-6a0e-4c47-9d3c-2f1e0b5d0c01", hw) == by_model);
  g_assert_true (devbg_metadata_match (all, "00000000-0000-4000-8000-000000000000", hw) == by_rev);
  g_assert_null (devbg_metadata_match (all, NULL, (const char *[]) { "HID\\VID_1&PID_2", NULL }));

  g_assert_true (devbg_metadata_is_privileged (by_rev, "org.a.Rev"));
  g_assert_false (devbg_metadata_is_privileged (by_rev, "org.a.Re"));
  g_assert_false (devbg_metadata_is_privileged (by_rev, "org.a.Generic"));
  g_assert_true (devbg_metadata_is_privileged (by_model, "org.any.App"));
  g_assert_false (devbg_metadata_is_privileged (NULL, "org.any.App"));
}

static void
test_metadata_errors (void)
{
  static const struct { const char *xml; const char *message; } cases[] = {
    { "<SoftwareInfo/>", "expected <DeviceMetadata>" },
    { "<DeviceMetadata><ModelId>nope</ModelId></DeviceMetadata>", "is not a GUID" },
    { "<DeviceMetadata><HardwareIds><HardwareId>novendor</HardwareId></HardwareIds></DeviceMetadata>",
      "is not a hardware ID" },
    { "<DeviceMetadata><SoftwareInfo><PrivilegedApplications><AnyApplication/>"
      "</PrivilegedApplications></SoftwareInfo></DeviceMetadata>", "matches no device" },
    { "<DeviceMetadata><HardwareIds><HardwareId>USB\\X</HardwareId></HardwareIds></DeviceMetadata>",
      "names no app" },
    { "<DeviceMetadata><HardwareIds><HardwareId>USB\\X</HardwareId></HardwareIds><SoftwareInfo>"
      "<PrivilegedApplications><Package><Identity><Name>x</Name></Identity></Package>"
      "</PrivilegedApplications></SoftwareInfo></DeviceMetadata>", "not a valid app ID" },
    { "<DeviceMetadata>\n<Bogus/>", "line 2" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(DevbgMetadata) md = devbg_metadata_parse (cases[i].xml, -1, "md.xml", &error);

      g_assert_null (md);
      g_assert_error (error, DEVBG_ERROR, DEVBG_ERROR_BAD_METADATA);
      if (strstr (error->message, cases[i].message) == NULL)
        g_error ("case %zu: '%s' lacks '%s'", i, error->message, cases[i].message);
    }
}

/* ---- identity ---- */

static void
test_identity_units (void)
{
  const char *known[] = { "org.gnome.Terminal", "org.example", "org.example.App",
                          "org.example.my-app", NULL };
  static const struct { const char *unit; const char *app; } cases[] = {
    { "app-gnome-org.gnome.Terminal-4242.scope", "org.gnome.Terminal" },
    { "app-org.gnome.Terminal-4242.scope", "org.gnome.Terminal" },
    { "app-flatpak-org.example.App-99.scope", "org.example.App" },
    { "app-gnome-org.example.App@abc.service", "org.example.App" },
    { "app-org.example.App.service", "org.example.App" },
    { "app-gnome-org.example.my\\x2dapp-7.scope", "org.example.my-app" },
    { "app-gnome-org.example.Other-7.scope", NULL },
    { "app-gnome-org.example.AppX-7.scope", NULL },
    { "session-2.scope", NULL },
    { "app-gnome-org.gnome.Terminal-4242.slice", NULL },
    { "app-org.gnome.Terminal\\x00.service", NULL }, /* found by fuzz-identity */
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    g_assert_cmpstr (devbg_identity_app_id_from_unit (cases[i].unit, known), ==, cases[i].app);
}

static void
test_identity_cgroup (void)
{
  g_autofree char *v2 = devbg_identity_unit_from_cgroup (
    "0::/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-org.a.B-1.scope\n");
  g_autofree char *v1 = devbg_identity_unit_from_cgroup (
    "4:memory:/x\n1:name=systemd:/user.slice/app-org.a.B-2.scope/sub\n0::/\n");
  g_autofree char *none = devbg_identity_unit_from_cgroup ("0::/system.slice/cron.service\n");

  g_assert_cmpstr (v2, ==, "app-gnome-org.a.B-1.scope");
  g_assert_null (v1); /* the v2 line wins, and it names no app unit */
  g_assert_null (none);
  g_clear_pointer (&v1, g_free);
  v1 = devbg_identity_unit_from_cgroup ("1:name=systemd:/user.slice/app-org.a.B-2.scope/sub\n");
  g_assert_cmpstr (v1, ==, "app-org.a.B-2.scope");
}

static void
test_identity_flatpak_info (void)
{
  const char *good = "[Application]\nname=org.example.App\nruntime=runtime/org.gnome.Platform\n";
  g_autofree char *id = devbg_identity_parse_flatpak_info (good, strlen (good));

  g_assert_cmpstr (id, ==, "org.example.App");
  g_assert_null (devbg_identity_parse_flatpak_info ("[Application]\nname=bad\n", 22));
  g_assert_null (devbg_identity_parse_flatpak_info ("garbage", 7));
}

/* ---- store ---- */

static void
test_store (void)
{
  g_autofree char *dir = g_dir_make_tmp ("devbg-store-XXXXXX", NULL);
  g_autoptr(GError) error = NULL;
  DevbgRegistrationRecord reg = {
    .task_id = (char *) "9b2c8c1e-4f0a-4c4e-9d7e-5a0b8f3c2d10", .app_id = (char *) "org.a.B",
    .name = (char *) "sync", .entry_point = (char *) "B.Sync", .trigger = DEVBG_TRIGGER_SERVICING,
    .created_us = 1, .uid = 1000,
  };

  {
    g_autoptr(DevbgStore) store = devbg_store_open (dir, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (devbg_store_get_schema_version (store), ==, DEVBG_STORE_SCHEMA_VERSION);
    g_assert_true (devbg_store_add_registration (store, &reg, &error));
    g_assert_false (devbg_store_add_registration (store, &reg, &error)); /* same task ID */
    g_assert_error (error, DEVBG_ERROR, DEVBG_ERROR_STORE);
    g_clear_error (&error);
  }
  {
    /* One owner is the pair (uid, app ID): the same app of another user,
     * and another app of the same user, see nothing of it. */
    DevbgOwner owner = { .uid = 1000, .app_id = "org.a.B" };
    DevbgOwner other_user = { .uid = 1001, .app_id = "org.a.B" };
    DevbgOwner other_app = { .uid = 1000, .app_id = "org.c.D" };
    g_autoptr(DevbgStore) store = devbg_store_open (dir, &error);
    g_autoptr(GPtrArray) mine = devbg_store_list_registrations (store, &owner, 0, 10, &error);
    g_autoptr(GPtrArray) theirs = devbg_store_list_registrations (store, &other_user, 0, 10, &error);
    g_autoptr(GPtrArray) other = devbg_store_list_registrations (store, &other_app, 0, 10, &error);
    g_autoptr(DevbgRegistrationRecord) got = NULL;
    DevbgRegistrationRecord *back;

    g_assert_cmpuint (mine->len, ==, 1);
    g_assert_cmpuint (theirs->len, ==, 0);
    g_assert_cmpuint (other->len, ==, 0);
    back = g_ptr_array_index (mine, 0);
    g_assert_cmpstr (back->name, ==, "sync");
    g_assert_cmpuint (back->uid, ==, 1000);
    g_assert_cmpint (back->trigger, ==, DEVBG_TRIGGER_SERVICING);
    g_assert_cmpint (devbg_store_count_registrations (store, &other_user, &error), ==, 0);
    g_assert_null (devbg_store_get_registration (store, &other_user, reg.task_id, &error));
    g_assert_error (error, DEVBG_ERROR, DEVBG_ERROR_NO_SUCH_REGISTRATION);
    g_clear_error (&error);
    got = devbg_store_get_registration (store, &owner, reg.task_id, &error);
    g_assert_nonnull (got);
    g_assert_false (devbg_store_remove_registration (store, &other_user, reg.task_id, &error));
    g_assert_error (error, DEVBG_ERROR, DEVBG_ERROR_NO_SUCH_REGISTRATION);
    g_clear_error (&error);
    g_assert_false (devbg_store_remove_registration (store, &other_app, reg.task_id, &error));
    g_assert_error (error, DEVBG_ERROR, DEVBG_ERROR_NO_SUCH_REGISTRATION);
    g_clear_error (&error);
    /* The owner's count, once counted, follows every insert and delete
     * (Register checks its limit with it). */
    g_assert_cmpint (devbg_store_count_registrations (store, &owner, &error), ==, 1);
    g_assert_true (devbg_store_remove_registration (store, &owner, reg.task_id, &error));
    g_assert_cmpint (devbg_store_count_registrations (store, &owner, &error), ==, 0);
    g_assert_cmpint (devbg_store_count_registrations (store, NULL, &error), ==, 0);
    g_assert_true (devbg_store_add_registration (store, &reg, &error));
    g_assert_cmpint (devbg_store_count_registrations (store, &owner, &error), ==, 1);
    g_assert_cmpint (devbg_store_count_registrations (store, &other_app, &error), ==, 0);
    g_assert_false (devbg_store_add_registration (store, &reg, &error)); /* refused: not counted */
    g_clear_error (&error);
    g_assert_cmpint (devbg_store_count_registrations (store, &owner, &error), ==, 1);
    g_assert_true (devbg_store_remove_registration (store, &owner, reg.task_id, &error));
    g_assert_cmpint (devbg_store_count_registrations (store, &owner, &error), ==, 0);
  }
  {
    /* Pages: every entry once, in order, whatever the page size. */
    DevbgOwner owner = { .uid = 1000, .app_id = "org.a.B" };
    g_autoptr(DevbgStore) store = devbg_store_open (dir, &error);
    g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func (g_free);
    gint64 cursor = DEVBG_STORE_CURSOR_START;

    for (guint i = 0; i < 25; i++)
      {
        g_autofree char *id = g_uuid_string_random ();
        g_autofree char *name = g_strdup_printf ("r%02u", i);
        DevbgRegistrationRecord r = reg;
        r.task_id = id;
        r.name = name;
        g_assert_true (devbg_store_add_registration (store, &r, &error));
      }
    for (;;)
      {
        g_autoptr(GPtrArray) page = devbg_store_list_registrations (store, &owner, cursor, 7, &error);
        g_assert_no_error (error);
        if (page->len == 0)
          break;
        for (guint i = 0; i < page->len; i++)
          {
            DevbgRegistrationRecord *r = g_ptr_array_index (page, i);
            g_ptr_array_add (seen, g_strdup (r->name));
            cursor = r->cursor;
          }
      }
    g_assert_cmpuint (seen->len, ==, 25);
    for (guint i = 0; i < 25; i++)
      {
        g_autofree char *want = g_strdup_printf ("r%02u", i);
        g_assert_cmpstr (g_ptr_array_index (seen, i), ==, want);
      }
  }
  {
    /* Events and history per owner; the history pruned by count and age. */
    DevbgOwner owner = { .uid = 1000, .app_id = "org.a.B" };
    DevbgOwner other_user = { .uid = 1001, .app_id = "org.a.B" };
    DevbgListScope mine = { .uid = 1000, .app_id = "org.a.B" };
    DevbgListScope all = { .all = TRUE };
    g_autoptr(DevbgStore) store = devbg_store_open (dir, &error);
    g_autoptr(GPtrArray) hist = NULL;
    g_autoptr(GPtrArray) evs = NULL;

    for (guint i = 0; i < 10; i++)
      {
        g_autofree char *iid = g_uuid_string_random ();
        g_autofree char *eid = g_uuid_string_random ();
        DevbgInstanceRecord rec = {
          .instance_id = iid, .task_id = (char *) "t", .app_id = (char *) "org.a.B",
          .name = (char *) "n", .entry_point = (char *) "B.Sync", .device_id = (char *) "d",
          .uid = i < 5 ? 1000 : 1001, .started_us = i, .finished_us = 1000 + i,
          .error = (char *) "", .cancel_reason = (char *) "",
        };
        DevbgEventRecord ev = {
          .event_id = eid, .uid = rec.uid, .app_id = rec.app_id, .task_id = rec.task_id,
          .instance_id = iid, .error = (char *) "", .cancel_reason = (char *) "",
          .finished_us = rec.finished_us,
        };
        g_assert_true (devbg_store_add_instance (store, &rec, &error));
        g_assert_true (devbg_store_finish_instance (store, &rec, &ev, &error));
      }
    g_assert_cmpint (devbg_store_count_events (store, &owner, &error), ==, 5);
    g_assert_cmpint (devbg_store_count_events (store, &other_user, &error), ==, 5);
    evs = devbg_store_list_events (store, &other_user, 0, 100, &error);
    g_assert_cmpuint (evs->len, ==, 5);
    {
      /* Another user's copy of the app cannot acknowledge (steal) them. */
      const char *ids[] = { ((DevbgEventRecord *) g_ptr_array_index (evs, 0))->event_id, NULL };
      g_assert_true (devbg_store_ack_events (store, &owner, ids, &error));
      g_assert_cmpint (devbg_store_count_events (store, &other_user, &error), ==, 5);
      g_assert_true (devbg_store_ack_events (store, &other_user, ids, &error));
      g_assert_cmpint (devbg_store_count_events (store, &other_user, &error), ==, 4);
    }
    hist = devbg_store_list_history (store, &mine, 0, 100, &error);
    g_assert_cmpuint (hist->len, ==, 5);
    g_clear_pointer (&hist, g_ptr_array_unref);
    g_assert_true (devbg_store_prune_history (store, &owner, 2, 0, &error));
    hist = devbg_store_list_history (store, &mine, 0, 100, &error);
    g_assert_cmpuint (hist->len, ==, 2);
    g_assert_cmpint (((DevbgInstanceRecord *) g_ptr_array_index (hist, 0))->finished_us, ==, 1004);
    g_clear_pointer (&hist, g_ptr_array_unref);
    hist = devbg_store_list_history (store, &all, 0, 100, &error);
    g_assert_cmpuint (hist->len, ==, 7); /* the other user's five untouched */
    g_clear_pointer (&hist, g_ptr_array_unref);
    g_assert_true (devbg_store_prune_history (store, &owner, 100, 1008, &error));
    hist = devbg_store_list_history (store, &all, 0, 100, &error);
    g_assert_cmpuint (hist->len, ==, 2); /* 1008 and 1009: the rest too old */
  }
  {
    g_autofree char *db = g_build_filename (dir, "devbg.db", NULL);
    g_autofree char *wal = g_build_filename (dir, "devbg.db-wal", NULL);
    g_autofree char *shm = g_build_filename (dir, "devbg.db-shm", NULL);
    g_unlink (wal);
    g_unlink (shm);
    g_unlink (db);
    g_rmdir (dir);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/config/defaults", test_config_defaults);
  g_test_add_func ("/config/errors-leave-config-unchanged", test_config_errors_leave_config_unchanged);
  g_test_add_func ("/config/round-trip", test_config_round_trip);
  g_test_add_func ("/config/locale-and-repeated-keys", test_config_locale_and_repeated_keys);
  g_test_add_func ("/manifest/parse", test_manifest_parse);
  g_test_add_func ("/manifest/errors", test_manifest_errors);
  g_test_add_func ("/manifest/app-id", test_app_id);
  g_test_add_func ("/manifest/display-name", test_manifest_display_name);
  g_test_add_func ("/manifest/display-name-spoofing", test_manifest_display_name_spoofing);
  g_test_add_func ("/manifest/limits", test_manifest_limits);
  g_test_add_func ("/manifest/quoted-bounded", test_manifest_quoted_bounded);
  g_test_add_func ("/manifest/ignored", test_manifest_ignored);
  g_test_add_func ("/manifest/executable-appeared", test_manifest_executable_appeared);
  g_test_add_func ("/metadata/match", test_metadata_match);
  g_test_add_func ("/metadata/errors", test_metadata_errors);
  g_test_add_func ("/identity/units", test_identity_units);
  g_test_add_func ("/identity/cgroup", test_identity_cgroup);
  g_test_add_func ("/identity/flatpak-info", test_identity_flatpak_info);
  g_test_add_func ("/store/registrations", test_store);
  return g_test_run ();
}
