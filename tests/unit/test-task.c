/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The task side of libdevbg against a fake devbgd: the test process plays
 * the service end of a real socketpair, a forked child runs
 * devbg_task_main() with the other end at fd 4 and a device at fd 3.
 * Covers devbg_task_instance_reopen_device(): the answer handed from the
 * reader thread to the waiting caller, the new fd taking fd 3's place, a
 * failed reopen, and a cancel while waiting;
 * devbg_task_instance_report_progress() refusing a value above 100; and a
 * successful devbg_task_instance_complete() dropping its message, as its
 * documentation says.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>

#include "devbg-channel.h"
#include "devbg-error.h"
#include "devbg-task.h"

#define REOPEN_TIMEOUT_MS 3000

/* The entry point: reopen, then write "new" on the fd it got and check it
 * is still fd 3; any failure becomes the completion's message. */
static void
reopen_run (DevbgTaskInstance *task, gpointer data)
{
  g_autoptr(GError) error = NULL;
  int fd = devbg_task_instance_reopen_device (task, REOPEN_TIMEOUT_MS, &error);

  if (fd < 0)
    {
      g_autofree char *message = g_strdup_printf ("reopen failed: %s", error->message);
      devbg_task_instance_complete (task, FALSE, message);
      return;
    }
  if (fd != DEVBG_TASK_DEVICE_FD || devbg_task_instance_get_device_fd (task) != fd)
    {
      devbg_task_instance_complete (task, FALSE, "the device moved from fd 3");
      return;
    }
  if (write (fd, "new", 3) != 3)
    devbg_task_instance_complete (task, FALSE, "cannot write to the new device");
}

/* Reports 50, then 150, which is refused: a critical, nothing sent, and
 * the last value kept. */
static void
overshoot_run (DevbgTaskInstance *task, gpointer data)
{
  devbg_task_instance_report_progress (task, 50);
  g_test_expect_message ("libdevbg", G_LOG_LEVEL_CRITICAL, "*assertion 'progress <= *' failed*");
  devbg_task_instance_report_progress (task, 150);
  g_test_assert_expected_messages ();
  if (devbg_task_instance_get_progress (task) != 50)
    devbg_task_instance_complete (task, FALSE, "the refused progress was kept");
}

static void
success_with_message_run (DevbgTaskInstance *task, gpointer data)
{
  devbg_task_instance_complete (task, TRUE, "all went well");
}

static const DevbgTaskEntryPoint entry_points[] = {
  { "Test.Reopen", reopen_run, NULL },
  { "Test.Overshoot", overshoot_run, NULL },
  { "Test.SuccessWithMessage", success_with_message_run, NULL },
  { NULL, NULL, NULL },
};

typedef struct {
  int   service;    /* our end of the channel */
  int   old_device; /* our end of the device the task starts with */
  pid_t pid;
} FakeService;

/* Moves @fd to exactly @target in the child, whatever numbers the
 * socketpairs got in the parent. */
static void
child_place_fds (int channel, int device)
{
  int c = fcntl (channel, F_DUPFD, 100);
  int d = fcntl (device, F_DUPFD, 100);

  if (c < 0 || d < 0 || dup2 (c, DEVBG_TASK_CHANNEL_FD) < 0 || dup2 (d, DEVBG_TASK_DEVICE_FD) < 0)
    _exit (99);
  close (c);
  close (d);
}

static void
fake_service_start (FakeService *fs, const char *entry_point)
{
  int sv[2], dev[2];
  struct timeval tv = { .tv_sec = 10 };
  DevbgChannelMessage trigger = {
    .type = DEVBG_CHANNEL_MSG_TRIGGER, .instance_id = (char *) "7", .task_id = (char *) "t1",
    .entry_point = (char *) entry_point, .device_id = (char *) "virtual-D0C1-0000",
    .expected_duration_ms = 60000, .trigger_type = DEVBG_TRIGGER_SERVICING,
  };

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), ==, 0);
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, dev), ==, 0);
  /* A hung task fails the test instead of hanging it. */
  g_assert_cmpint (setsockopt (sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), ==, 0);
  g_assert_cmpint (setsockopt (dev[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), ==, 0);
  g_assert_true (devbg_channel_send (sv[0], &trigger, NULL));
  fs->pid = fork ();
  g_assert_cmpint (fs->pid, >=, 0);
  if (fs->pid == 0)
    {
      char *argv[] = { (char *) "test-task", NULL };

      child_place_fds (sv[1], dev[1]);
      _exit (devbg_task_main (1, argv, entry_points));
    }
  close (sv[1]);
  close (dev[1]);
  fs->service = sv[0];
  fs->old_device = dev[0];
}

static DevbgChannelMessage *
fake_service_recv (FakeService *fs)
{
  g_autoptr(GError) error = NULL;
  DevbgChannelMessage *msg = NULL;

  g_assert_true (devbg_channel_recv (fs->service, DEVBG_CHANNEL_TO_SERVICE, &msg, &error));
  g_assert_no_error (error);
  g_assert_nonnull (msg);
  return msg;
}

static void
expect_reopen_request (FakeService *fs)
{
  g_autoptr(DevbgChannelMessage) msg = fake_service_recv (fs);

  g_assert_cmpint (msg->type, ==, DEVBG_CHANNEL_MSG_REOPEN_DEVICE);
  g_assert_cmpuint (msg->timeout_ms, ==, REOPEN_TIMEOUT_MS);
}

/* Reads the COMPLETE and the exit status; returns the error message. */
static char *
fake_service_finish (FakeService *fs, gboolean expect_success)
{
  g_autoptr(DevbgChannelMessage) msg = fake_service_recv (fs);
  int status = 0;

  g_assert_cmpint (msg->type, ==, DEVBG_CHANNEL_MSG_COMPLETE);
  g_assert_cmpint (msg->success, ==, expect_success);
  g_assert_cmpint (waitpid (fs->pid, &status, 0), ==, fs->pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, expect_success ? 0 : 1);
  close (fs->service);
  close (fs->old_device);
  return g_strdup (msg->error_message);
}

static void
test_reopen_ok (void)
{
  FakeService fs;
  int dev[2];
  char buf[4] = { 0 };
  g_autofree char *message = NULL;

  fake_service_start (&fs, "Test.Reopen");
  expect_reopen_request (&fs);
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, dev), ==, 0);
  g_assert_true (devbg_channel_send_device_reopened (fs.service, dev[1], NULL, NULL));
  close (dev[1]); /* the task holds the only copy now */

  g_assert_cmpint (read (dev[0], buf, 3), ==, 3);
  g_assert_cmpstr (buf, ==, "new");
  message = fake_service_finish (&fs, TRUE);
  g_assert_cmpstr (message, ==, "");
  /* The old device was closed in the task when the new one took fd 3. */
  g_assert_cmpint (read (fs.old_device, buf, 1), <=, 0);
  close (dev[0]);
}

static void
test_reopen_failed (void)
{
  FakeService fs;
  g_autofree char *message = NULL;

  fake_service_start (&fs, "Test.Reopen");
  expect_reopen_request (&fs);
  g_assert_true (devbg_channel_send_device_reopened (fs.service, -1,
                                                     "virtual-D0C1-0000 did not come back "
                                                     "within 3000 ms", NULL));
  message = fake_service_finish (&fs, FALSE);
  g_assert_cmpstr (message, ==, "reopen failed: virtual-D0C1-0000 did not come back within 3000 ms");
}

static void
test_reopen_canceled (void)
{
  FakeService fs;
  g_autoptr(GBytes) cancel = devbg_channel_encode_cancel (DEVBG_CANCEL_ABORT, "app canceled", NULL);
  g_autofree char *message = NULL;
  int dev[2];

  fake_service_start (&fs, "Test.Reopen");
  expect_reopen_request (&fs);
  g_assert_true (devbg_channel_send_bytes (fs.service, cancel, NULL));
  /* An answer that comes after the cancel finds nobody waiting (or the
   * task gone): it is dropped with its fd, and changes nothing. */
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, dev), ==, 0);
  devbg_channel_send_device_reopened (fs.service, dev[1], NULL, NULL);
  close (dev[1]);
  message = fake_service_finish (&fs, FALSE);
  g_assert_cmpstr (message, ==, "reopen failed: The task was canceled while waiting for its device");
  close (dev[0]);
}

static void
test_progress_above_100 (void)
{
  FakeService fs;
  g_autoptr(DevbgChannelMessage) msg = NULL;
  g_autofree char *message = NULL;

  fake_service_start (&fs, "Test.Overshoot");
  msg = fake_service_recv (&fs);
  g_assert_cmpint (msg->type, ==, DEVBG_CHANNEL_MSG_PROGRESS);
  g_assert_cmpuint (msg->progress, ==, 50);
  /* The next message is the COMPLETE: 150 was never sent. */
  message = fake_service_finish (&fs, TRUE);
  g_assert_cmpstr (message, ==, "");
}

static void
test_success_drops_its_message (void)
{
  FakeService fs;
  g_autofree char *message = NULL;

  fake_service_start (&fs, "Test.SuccessWithMessage");
  message = fake_service_finish (&fs, TRUE);
  g_assert_cmpstr (message, ==, "");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/task/reopen/ok", test_reopen_ok);
  g_test_add_func ("/task/reopen/failed", test_reopen_failed);
  g_test_add_func ("/task/reopen/canceled", test_reopen_canceled);
  g_test_add_func ("/task/progress/above-100", test_progress_above_100);
  g_test_add_func ("/task/complete/success-drops-its-message", test_success_drops_its_message);
  return g_test_run ();
}
