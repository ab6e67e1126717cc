"""A stand-in for the Slack Web API: `{"ok": true, ...}` / `{"ok": false, "error": "..."}` envelopes, bearer
tokens, channel names resolved to IDs, Block Kit limits enforced the way Slack rejects them (`invalid_blocks`),
message metadata kept and returned by conversations.history only with include_all_metadata.

File uploads as files_upload_v2 makes them: files.getUploadURLExternal hands out an upload URL on this server
(under UPLOAD_PATH, no token: the URL is the credential), the bytes are POSTed there, files.completeUploadExternal
finishes the file. An image block may name a file (`slack_file.id`) only once its upload is complete.

To make an upload hang, `hold_uploads()`: POSTs to an upload URL wait (outside the server's lock, so other calls
go on) until `release_uploads()`; `upload_held` is set once one is waiting. To make one fail, the faults every
stand-in has: `http.fail(UPLOAD_PATH, Reply(500, ...))`, `http.fail(UPLOAD_PATH, drop=True)` (bytes stored,
answer lost), or a fault on "files.getUploadURLExternal" / "files.completeUploadExternal"."""

from __future__ import annotations

import itertools
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.standins.http import Reply, Request, StandIn

UPLOAD_PATH = "/upload/v1/"


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    blocks: list[dict]
    metadata: dict | None
    unfurl_links: object
    unfurl_media: object
    edits: list[dict] = field(default_factory=list)
    thread_ts: str | None = None
    received_at: float = field(default_factory=time.time)
    files: list[str] = field(default_factory=list)  # a file shared by files.completeUploadExternal with a channel


@dataclass
class File:
    id: str
    filename: str
    length: int
    alt_txt: str | None
    upload_key: str
    title: str | None = None
    content: bytes | None = None  # None until the bytes are POSTed to the upload URL
    completed: bool = False
    channels: list[str] = field(default_factory=list)  # where completeUploadExternal shared it (none: private)


class _Gated(StandIn):
    """A StandIn that lets `gate` hold a request before it is dispatched, without holding the server's lock."""

    def __init__(self, handle: Callable[[Request], Reply], gate: Callable[[Request], None]) -> None:
        self._gate = gate
        super().__init__(handle)

    def _dispatch(self, request: Request) -> Reply | None:
        self._gate(request)
        return super()._dispatch(request)


class FakeSlack:
    def __init__(
        self, *, token: str = "xoxb-test-token", app_token: str = "xapp-test-token", channels: dict[str, str] | None = None
    ) -> None:
        self.token = token
        self.app_token = app_token
        self.channels = channels or {"C0ALERTS": "alerts"}
        self.messages: list[Message] = []
        self.ephemeral: list[dict] = []  # chat.postEphemeral: {"channel", "user", "text"}
        self.views: list[dict] = []  # views.open: {"trigger_id", "view"}
        self.socket_url = ""  # what apps.connections.open answers (a SocketModeStandIn's url)
        self.emails: dict[str, str] = {}  # users.lookupByEmail: e-mail → user ID
        self.usergroups: dict[str, list[str]] = {}  # group ID → members, as usergroups.users.update left them
        self.usergroup_updates: list[tuple[str, list[str], float]] = []
        self.archived: set[str] = set()  # channel IDs: posts and edits answer is_archived
        # A test's refusals: given a chat.postMessage or chat.update's arguments, an error code to answer with.
        self.refuse: Callable[[dict], str | None] = lambda _args: None
        self.uploads: dict[str, File] = {}  # file ID → file, in the order getUploadURLExternal gave them out
        self.uploads_open = threading.Event()  # cleared by hold_uploads(): POSTs to an upload URL wait
        self.uploads_open.set()
        self.upload_held = threading.Event()  # set when an upload is waiting at the gate
        self._ts = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._closed = False
        self.now = time.time  # tests on a fake clock replace this
        self.http = _Gated(self.handle, self._gate)
        self.url = self.http.url + "/api/"

    def handle(self, request: Request) -> Reply:
        if request.path.startswith(UPLOAD_PATH):
            return self._receive_upload(request)
        method = request.path.removeprefix("/api/")
        args = request.form()
        token = request.headers.get("authorization", "").removeprefix("Bearer ") or args.get("token", "")
        if not token:
            return _error("not_authed")
        if method == "apps.connections.open":
            if token == self.token:
                return _error("not_allowed_token_type")
            return _ok(url=self.socket_url) if token == self.app_token else _error("invalid_auth")
        if token != self.token:
            return _error("not_allowed_token_type" if token == self.app_token else "invalid_auth")
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return _error("unknown_method")
        return handler(args)

    def _channel(self, name: str) -> str | None:
        if name in self.channels:
            return name
        bare = name.removeprefix("#")
        return next((cid for cid, cname in self.channels.items() if cname == bare), None)

    def _auth_test(self, _args: dict) -> Reply:
        """As for a bot token: no enterprise_id outside an Enterprise organization; app_id as Slack's SDKs type it."""
        return _ok(
            url="https://acme.slack.com/", team="Acme", user="replywatch", team_id="T0ACME", user_id="U0BOT",
            bot_id="B0BOT", app_id="A0APP", is_enterprise_install=False,
        )

    def _chat_postMessage(self, args: dict) -> Reply:  # noqa: N802
        channel = self._channel(str(args.get("channel", "")))
        if channel is None:
            return _error("channel_not_found")
        if problem := ("is_archived" if channel in self.archived else self.refuse(args)):
            return _error(problem)
        blocks = _decode(args.get("blocks")) or []
        if not args.get("text") and not blocks:
            return _error("no_text")
        if problem := _check_blocks(blocks) or self._check_images(blocks):
            return _error("invalid_blocks", errors=[problem])
        ts = f"{int(time.time())}.{next(self._ts):06d}"
        message = Message(
            channel=channel,
            ts=ts,
            text=str(args.get("text", "")),
            blocks=blocks,
            metadata=_decode(args.get("metadata")),
            unfurl_links=args.get("unfurl_links"),
            unfurl_media=args.get("unfurl_media"),
            thread_ts=args.get("thread_ts"),
            received_at=self.now(),
        )
        self.messages.append(message)
        return _ok(channel=channel, ts=ts, message={"type": "message", "text": message.text, "ts": ts})

    def _chat_update(self, args: dict) -> Reply:
        channel = str(args.get("channel", ""))
        if channel not in self.channels:
            return _error("channel_not_found")
        if problem := ("is_archived" if channel in self.archived else self.refuse(args)):
            return _error(problem)
        message = next((m for m in self.messages if m.channel == channel and m.ts == args.get("ts")), None)
        if message is None:
            return _error("message_not_found")
        blocks = _decode(args.get("blocks")) or []
        if problem := _check_blocks(blocks) or self._check_images(blocks):
            return _error("invalid_blocks", errors=[problem])
        message.edits.append({"text": message.text, "blocks": message.blocks, "at": time.time()})
        message.text = str(args.get("text", message.text))
        message.blocks = blocks or message.blocks
        return _ok(channel=channel, ts=message.ts, text=message.text)

    def _check_images(self, blocks: list[dict]) -> str | None:
        """An image block names a public URL or a file of ours whose upload is complete, not both, with alt text."""
        for i, block in enumerate(blocks):
            if block.get("type") != "image":
                continue
            where = f"[json-pointer:/blocks/{i}"
            if not str(block.get("alt_text") or "").strip():
                return f"must provide alt_text {where}/alt_text]"
            slack_file = block.get("slack_file")
            if (slack_file is None) == (block.get("image_url") is None):
                return f"must provide exactly one of image_url or slack_file {where}]"
            if slack_file is None:
                continue
            file = self.uploads.get(str(slack_file.get("id", ""))) if isinstance(slack_file, dict) else None
            if file is None or not file.completed:
                return f"invalid slack file {where}/slack_file]"
        return None

    def _files_getUploadURLExternal(self, args: dict) -> Reply:  # noqa: N802
        filename = str(args.get("filename") or "")
        try:
            length = int(args.get("length") or 0)
        except ValueError:
            length = 0
        if not filename or length <= 0:
            return _error("missing_argument")  # what Slack answers for a length of 0
        alt_txt = args.get("alt_txt")
        if alt_txt is not None and len(str(alt_txt)) > 1000:
            return _error("alt_txt_too_large")
        file = File(
            id=f"F{next(self._file_ids):08d}", filename=filename, length=length,
            alt_txt=None if alt_txt is None else str(alt_txt), upload_key=secrets.token_hex(8),
        )
        self.uploads[file.id] = file
        return _ok(upload_url=f"{self.http.url}{UPLOAD_PATH}{file.upload_key}", file_id=file.id)

    def _receive_upload(self, request: Request) -> Reply:
        """The upload URL: takes the raw bytes (or a multipart form's file part) and answers in plain text."""
        key = request.path.removeprefix(UPLOAD_PATH)
        file = next((f for f in self.uploads.values() if f.upload_key == key), None)
        if request.method != "POST" or file is None or file.completed:
            return Reply(404, raw=b"not found")
        file.content = request.body
        return Reply(200, raw=f"OK - {len(request.body)}".encode())

    def _files_completeUploadExternal(self, args: dict) -> Reply:  # noqa: N802
        entries = _decode(args.get("files"))
        if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
            return _error("invalid_arguments")
        channel = None
        if args.get("channel_id") or args.get("channels"):
            channel = self._channel(str(args.get("channel_id") or args.get("channels")).split(",")[0])
            if channel is None:
                return _error("channel_not_found")
        found = [self.uploads.get(str(e.get("id", ""))) for e in entries]
        # Slack documents no error for these; an unknown, unsent or already completed file is refused here so
        # that a test notices a caller that completes what it did not upload.
        if any(f is None or f.content is None or f.completed for f in found):
            return _error("file_not_found")
        for file, entry in zip(found, entries, strict=True):
            file.title = str(entry.get("title") or file.filename)
            file.completed = True
        if channel is not None:  # shared: Slack posts a file message of its own in the channel
            ts = f"{int(time.time())}.{next(self._ts):06d}"
            self.messages.append(Message(
                channel=channel, ts=ts, text=str(args.get("initial_comment") or ""), blocks=[], metadata=None,
                unfurl_links=None, unfurl_media=None, thread_ts=args.get("thread_ts"), received_at=self.now(),
                files=[f.id for f in found],
            ))
            for file in found:
                file.channels.append(channel)
        return _ok(files=[{"id": f.id, "title": f.title, "name": f.filename, "size": len(f.content or b"")} for f in found])

    def _gate(self, request: Request) -> None:
        if not request.path.startswith(UPLOAD_PATH):
            return
        self.upload_held.set()
        while not self.uploads_open.wait(0.05) and not self._closed:
            pass

    def _chat_postEphemeral(self, args: dict) -> Reply:  # noqa: N802
        if self._channel(str(args.get("channel", ""))) is None:
            return _error("channel_not_found")
        if not args.get("user"):
            return _error("user_not_in_channel")
        self.ephemeral.append({"channel": args["channel"], "user": args["user"], "text": str(args.get("text", ""))})
        return _ok(message_ts=f"{int(time.time())}.{next(self._ts):06d}")

    def _views_open(self, args: dict) -> Reply:
        view = _decode(args.get("view"))
        if not args.get("trigger_id"):
            return _error("invalid_arguments")
        if not isinstance(view, dict) or view.get("type") != "modal" or len(view.get("blocks") or []) > 100:
            return _error("invalid_arguments")
        self.views.append({"trigger_id": args["trigger_id"], "view": view})
        return _ok(view={"id": f"V{len(self.views):04d}", **view})

    def _users_lookupByEmail(self, args: dict) -> Reply:  # noqa: N802
        user = self.emails.get(str(args.get("email", "")).lower())
        if user is None:
            return _error("users_not_found")
        return _ok(user={"id": user, "team_id": "T0ACME", "name": user.lower(), "deleted": False})

    def _usergroups_users_list(self, args: dict) -> Reply:
        group = str(args.get("usergroup", ""))
        if group not in self.usergroups:
            return _error("no_such_subteam")
        return _ok(users=list(self.usergroups[group]))

    def _usergroups_users_update(self, args: dict) -> Reply:
        group = str(args.get("usergroup", ""))
        users = [u for u in str(args.get("users", "")).split(",") if u]
        if not group.startswith("S"):
            return _error("no_such_subteam")
        if not users:
            return _error("invalid_users")  # a group cannot be emptied
        self.usergroups[group] = users
        self.usergroup_updates.append((group, users, self.now()))
        return _ok(usergroup={"id": group, "users": users})

    def _conversations_list(self, args: dict) -> Reply:
        """Two channels a page, to make callers follow `response_metadata.next_cursor`."""
        start = int(args.get("cursor") or 0)
        items = list(self.channels.items())
        page = [{"id": cid, "name": name, "is_channel": True, "is_archived": False} for cid, name in items[start : start + 2]]
        next_cursor = str(start + 2) if start + 2 < len(items) else ""
        return _ok(channels=page, response_metadata={"next_cursor": next_cursor})

    def _conversations_history(self, args: dict) -> Reply:
        """Top-level messages only, newest first, as Slack does (thread replies are not in history)."""
        return self._list_messages(args, lambda m: m.thread_ts is None)

    def _conversations_replies(self, args: dict) -> Reply:
        """A thread: its parent, then the replies, oldest first."""
        parent = str(args.get("ts", ""))
        if not any(m.ts == parent for m in self.messages):
            return _error("thread_not_found")
        return self._list_messages(args, lambda m: m.ts == parent or m.thread_ts == parent, newest_first=False)

    def _list_messages(self, args: dict, keep, newest_first: bool = True) -> Reply:  # noqa: ANN001
        channel = str(args.get("channel", ""))
        if channel not in self.channels:
            return _error("channel_not_found")
        oldest = float(args.get("oldest") or 0)
        with_meta = str(args.get("include_all_metadata", "")).lower() in {"1", "true"}
        ordered = reversed(self.messages) if newest_first else iter(self.messages)
        found = [m for m in ordered if m.channel == channel and float(m.ts) >= oldest and keep(m)]
        out = []
        for m in found:
            entry: dict = {"type": "message", "ts": m.ts, "text": m.text}
            if with_meta and m.metadata:
                entry["metadata"] = m.metadata
            out.append(entry)
        return _ok(messages=out, has_more=False, channel=channel)

    # --- what tests look at ---------------------------------------------------------------------------

    def posts(self) -> list[Message]:
        return [m for m in self.messages if m.thread_ts is None]

    def files(self) -> list[File]:
        """Every file whose upload was started, completed or not, oldest first."""
        return list(self.uploads.values())

    def messages_with_image(self, file_id: str) -> list[Message]:
        """The messages (as they stand now) with an image block showing this file."""
        return [
            m for m in self.messages
            if any(b.get("type") == "image" and (b.get("slack_file") or {}).get("id") == file_id for b in m.blocks)
        ]

    def hold_uploads(self) -> None:
        """From now on a POST of a file's bytes waits until release_uploads() (or close())."""
        self.upload_held.clear()
        self.uploads_open.clear()

    def release_uploads(self) -> None:
        self.uploads_open.set()

    def tagged(self, tag: str) -> list[Message]:
        return [m for m in self.messages if m.metadata and (m.metadata.get("event_payload") or {}).get("tag") == tag]

    def delete(self, ts: str) -> None:
        """Someone deletes a message in Slack."""
        self.messages = [m for m in self.messages if m.ts != ts]

    def alerts_for(self, post_id: int | str) -> list[Message]:
        """The alerts about the post with this id on X (the one its "Open on X" link opens)."""
        return [m for m in self._alerts() if _opens(m) == int(post_id)]

    def alerted(self) -> list[int]:
        """The X post ids alerted, in posting order (one entry per message)."""
        return [_opens(m) for m in self._alerts()]

    def _alerts(self) -> list[Message]:
        return [m for m in self.messages if m.metadata and str(m.metadata["event_payload"].get("tag", "")).startswith("mention:")]

    def covered(self) -> list[int]:
        """Every X post id alerted, on its own or as a line of a digest, one entry per appearance."""
        return [int(link.rsplit("/", 1)[1]) for link in self.covered_links() if "/status/" in link]

    def covered_links(self) -> list[str]:
        """The link to every post alerted, on any network, on its own or as a line of a digest, one per appearance."""
        found = [_link(m) for m in self._alerts()]
        for digest in self.digests():
            found += _DIGEST_LINE.findall(json.dumps(digest.blocks))
        return found

    def digests(self) -> list[Message]:
        return [m for m in self.messages if m.metadata and str(m.metadata["event_payload"].get("tag", "")).startswith("digest:")]

    def thread(self, ts: str) -> list[Message]:
        """The replies posted in a message's thread."""
        return [m for m in self.messages if m.thread_ts == ts]

    def notices(self) -> list[Message]:
        return [
            m for m in self.messages
            if m.thread_ts is None and m.metadata and str(m.metadata["event_payload"].get("tag", "")).startswith("notice:")
        ]

    def close(self) -> None:
        self._closed = True  # lets a held upload's thread end
        self.http.close()


# The links our layouts make to a post on X: an "Open on X" button's url, or a link labelled Open/Mention on X. A
# person's text cannot make one: its > is escaped, and a quote in it is escaped in the JSON.
_OPENS = re.compile(r'"url": "(https://[^"]+)"|<(https://[^|>]+)\|(?:Open|Mention) on (?:X|Bluesky|Mastodon)>')
_DIGEST_LINE = re.compile(r"<(https://[^|>]+)\|@")  # a line: a link to the post labelled with its author


def _link(message: Message) -> str:
    """The link to the post an alert is about, from its blocks as first posted (or its text, sent without blocks)."""
    first = message.edits[0] if message.edits else {"text": message.text, "blocks": message.blocks}
    found = _OPENS.search(json.dumps(first["blocks"])) or _OPENS.search(first["text"])
    assert found is not None, f"an alert without a link to its post: {message.blocks}"
    return found.group(1) or found.group(2)


def _opens(message: Message) -> int:
    """The X post an alert is about."""
    return int(_link(message).rsplit("/status/", 1)[1])


def _decode(value: object) -> object:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _check_blocks(blocks: list[dict]) -> str | None:
    if len(blocks) > 50:
        return "no more than 50 items allowed [json-pointer:/blocks]"
    for i, block in enumerate(blocks):
        text = (block.get("text") or {}).get("text", "")
        if len(text) > 3000:
            return f"must be less than 3001 characters [json-pointer:/blocks/{i}/text/text]"
        for j, element in enumerate(block.get("elements") or []):
            if len(element.get("text", "")) > 3000:
                return f"must be less than 3001 characters [json-pointer:/blocks/{i}/elements/{j}/text]"
    return None


def _ok(**fields: object) -> Reply:
    return Reply(200, {"ok": True, **fields})


def _error(code: str, **fields: object) -> Reply:
    return Reply(200, {"ok": False, "error": code, **fields})
