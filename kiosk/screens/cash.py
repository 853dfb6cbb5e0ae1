"""Cash insertion: live cash, fee, amount to be credited and the maximum (and a bill's debt), with the Pay button."""

from __future__ import annotations

import re
from typing import Any

import pygame

from kiosk import events as ev
from kiosk.screens.base import HOME, Screen, phone, provider_name
from kiosk.screens.frame import Nav, heading, standard, take_top
from kiosk.screens.panels import Amount, Banner, Panel, Table, amount_height, banner_height
from kiosk.screens.text import Msg, Painter
from kiosk.screens.theme import Theme
from kiosk.screens.widgets import Button, Group, Label, Widget, fit_size
from kiosk.session import SessionView

PAY = "pay"
#: session message → what the payer reads, and in which tone
MESSAGES: dict[str, tuple[Msg, str]] = {
    "bill_over_limit": (Msg("Banknote returned: the payment would exceed the maximum"), "danger"),
    "bill_not_accepted": (Msg("Banknote not accepted. Take it and try another one"), "danger"),
    "cannot_cancel_with_money": (Msg("The money is inside: it will be paid to the account you entered. "
                                     "Press Pay or insert more"), "focus"),
}


class BillSlot(Widget):
    """A picture of the validator's slot with a banknote going in, so the payer knows where to put it."""

    def draw(self, surface: pygame.Surface, painter: Painter) -> None:
        """The slot, a banknote half inside it, and an arrow pointing in."""
        c, r = painter.colours, self.rect
        side = min(r.width, r.height * 2)
        frame = pygame.Rect(0, 0, side, r.height)
        frame.center = r.center
        slot = pygame.Rect(frame.x + side // 8, frame.bottom - frame.height // 4, side * 3 // 4, frame.height // 8)
        pygame.draw.rect(surface, c.surface, frame, border_radius=max(6, side // 30))
        pygame.draw.rect(surface, c.text, slot, border_radius=4)
        note = pygame.Rect(slot.x + slot.width // 8, frame.y + frame.height // 5, slot.width * 3 // 4,
                           slot.y - frame.y - frame.height // 5)
        pygame.draw.rect(surface, c.success, note, border_radius=4)
        pygame.draw.rect(surface, c.text, note, width=2, border_radius=4)
        tip = (note.centerx, slot.y - 2)
        head = max(6, note.width // 8)
        pygame.draw.polygon(surface, c.accent, [(tip[0] - head, tip[1] - head), (tip[0] + head, tip[1] - head), tip])
        self.dirty = False


class CashScreen(Screen):
    """Insert banknotes; the figures follow each stacked bill; Pay when at least the minimum is in."""

    states = ("cash_collection",)
    name = "cash"

    def build(self, view: SessionView, painter: Painter, theme: Theme, rect: pygame.Rect) -> Group:
        """Figures at the left, instructions at the right (stacked on narrow screens)."""
        ctx, gap = self.ctx, theme.spacing
        enough = view.cash >= view.min_amount > 0 and view.credited > 0  # Pay waits as the session does
        wide = rect.width >= rect.height * 1.2
        compact = wide and not self._figures_fit(view, painter, (rect.width - 3 * gap) // 2 - 2 * gap)
        if compact:
            return self._compact(view, painter, rect)
        buttons = [] if wide else [Nav(Msg("Pay"), PAY, "primary", enough)]
        if view.cash == 0:
            buttons.insert(0, Nav(Msg("Cancel"), HOME))  # once money is inside there is no cancel
        countdown = (Msg("The payment will be made automatically in {seconds} s") if view.cash
                     else Msg("Returning to the start in {seconds} s"))
        widgets, body = standard(self, view, painter, rect, provider_name(ctx, view.provider), buttons, countdown)
        figures_w = (body.width - gap) // 2 if wide else body.width
        pay_h = int(1.3 * ctx.min_px) if wide else 0
        figure_h = amount_height(painter)
        rows = [(Msg("Fee"), ctx.money(view.fee)), (Msg("To be credited"), ctx.money(view.credited)),
                (Msg("Minimum"), ctx.money(view.min_amount)), (Msg("Maximum"), ctx.money(view.max_amount))]
        if view.debt is not None:  # a utility bill: the debt stays in sight, and what this payment leaves of it
            due, rest = self._debt_rows(view)
            rows = [rows[0], due, rows[1], rest, *rows[2:]]
        room = body.height - pay_h - (gap if wide else 0)
        figures_h = min(room if wide else room * 3 // 5, figure_h + 2 * gap + len(rows) * (
            painter.font("title", True).get_linesize() + gap) + gap)
        figures = pygame.Rect(body.x, body.y, figures_w, figures_h)
        widgets.append(Panel(figures, "surface"))
        inner = figures.inflate(-2 * gap, -2 * gap)
        box, inner = take_top(inner, figure_h, gap)
        widgets.append(Amount(box, Msg("Inserted"), ctx.money(view.cash)))
        # fee, credited and the limits as one table: its text shrinks to fit the panel, never cut
        widgets.append(Table(inner, rows, size="title", label_share=0.5))
        if wide:
            # the button that ends the payment: big, right under the figures it pays
            widgets.append(Button((figures.x, body.bottom - pay_h, figures.width, pay_h), Msg("Pay"), PAY, "primary",
                                  enough, size="title"))
            side = pygame.Rect(figures.right + gap, body.y, body.right - figures.right - gap, body.height)
        else:
            side = pygame.Rect(body.x, figures.bottom + gap, body.width, body.bottom - figures.bottom - gap)
        title, side = heading(painter, side, Msg("Insert banknotes"))
        widgets.append(title)
        line = painter.font("base").get_linesize()
        side = self._instructions(view, painter, side, widgets)
        message = MESSAGES.get(view.message)
        if view.message == "insert_more":
            message = (Msg("Insert at least {amount}", amount=ctx.money(view.min_amount - view.cash)), "danger")
        if message is not None:
            strip, side = take_top(side, banner_height(painter), gap)
            widgets.append(Banner(strip, *message))
        if ctx.demo:
            strip, side = take_top(side, line * 2, gap)
            widgets.append(Label(strip, Msg("Demo: keys 1 to 8 insert banknotes of 10 to 5000"), "base", "muted_text",
                                 max_lines=2))
        # where the banknote goes, drawn under the words, in the room they leave: a payer at a strange
        # terminal looks for the slot
        if side.height >= ctx.min_px:
            widgets.append(BillSlot((side.x, side.y, side.width, min(side.height, 3 * ctx.min_px))))
        return Group(widgets)

    def _instructions(self, view: SessionView, painter: Painter, side: pygame.Rect, widgets: list[Widget],
                      compact: bool = False) -> pygame.Rect:
        """What to insert and where the money goes, as lines from the top of side; returns what is left."""
        ctx, gap = self.ctx, painter.theme.spacing
        line = painter.font("base").get_linesize()
        left = view.max_amount - view.cash
        accepted = ctx.terminal.acceptable()  # the session decides what still fits, not the screen
        # banknotes are whole roubles: "500 ₽", not "500,00 ₽"
        names = ", ".join(re.sub(r"[.,]00(?=\D*$)", "", ctx.money(d)) for d in accepted)
        texts: list[Msg] = []
        if view.cash < view.min_amount:
            texts.append(Msg("Insert at least {amount}", amount=ctx.money(view.min_amount - view.cash)))
        if left > 0 and not compact:
            texts.append(Msg("You can insert up to {amount} more", amount=ctx.money(left)))
        if accepted:
            texts.append(Msg("Accepted banknotes: {denominations}", denominations=names))
        if not compact:  # the compact layout has it in its table
            texts.append(Msg("Account: {account}", account=view.account_display))
        for text in texts:
            px = fit_size(painter, painter.resolve(text), "base", pygame.Rect(side.x, side.y, side.width, 4 * line),
                          False)
            lines = len(painter.wrap(painter.resolve(text), px, side.width))
            strip, side = take_top(side, painter.font(px).get_linesize() * lines, gap // 2)
            widgets.append(Label(strip, text, px, "text", max_lines=4))
        return side

    def _compact(self, view: SessionView, painter: Painter, rect: pygame.Rect) -> Group:
        """Large text on a small landscape display: the two amounts that matter side by side across the top,
        the fee and limits under them at the left and what to insert at the right, Pay in the footer."""
        ctx, gap = self.ctx, painter.theme.spacing
        enough = view.cash >= view.min_amount > 0 and view.credited > 0
        buttons = [Nav(Msg("Pay"), PAY, "primary", enough)]
        if view.cash == 0:
            buttons.insert(0, Nav(Msg("Cancel"), HOME))
        countdown = (Msg("The payment will be made automatically in {seconds} s") if view.cash
                     else Msg("Returning to the start in {seconds} s"))
        widgets, body = standard(self, view, painter, rect, provider_name(ctx, view.provider), buttons, countdown)
        figures, rest = take_top(body, amount_height(painter) + gap, gap)
        widgets.append(Panel(figures, "surface"))
        half = (figures.width - 3 * gap) // 2
        for n, (caption, minor) in enumerate(((Msg("Inserted"), view.cash), (Msg("To be credited"), view.credited))):
            widgets.append(Amount((figures.x + gap + n * (half + gap), figures.y + gap // 2, half, figures.height - gap),
                                  caption, ctx.money(minor)))
        rows = [(Msg("Fee"), ctx.money(view.fee)), (Msg("Minimum"), ctx.money(view.min_amount)),
                (Msg("Maximum"), ctx.money(view.max_amount))]
        if view.debt is not None:
            # a bill's debt and what is left of it take the limits' rows, which a small display cannot hold too:
            # the banknotes listed beside the table are those that still fit under the maximum, and while the
            # cash is below the minimum the instructions say how much more must go in
            rows = [*self._debt_rows(view), rows[0]]
        # where the money goes, one line across the bottom of the body
        account = Msg("Account: {account}", account=phone(view.account_display))
        line = painter.font("base").get_linesize()
        widgets.append(Label((rest.x, rest.bottom - line, rest.width, line), account, "base", "text", max_lines=1))
        rest.height -= line + gap // 2
        left = pygame.Rect(rest.x, rest.y, (rest.width - gap) // 2, rest.height)
        widgets.append(Table(left, rows, size="base"))
        side = pygame.Rect(left.right + gap, rest.y, rest.right - left.right - gap, rest.height)
        side = self._instructions(view, painter, side, widgets, compact=True)
        message = MESSAGES.get(view.message)
        if view.message == "insert_more":
            message = (Msg("Insert at least {amount}", amount=ctx.money(view.min_amount - view.cash)), "danger")
        if message is not None:
            # a warning goes over the fee and limits, which the payer has already seen
            widgets.append(Banner(left, *message))
        return Group(widgets)

    def _debt_rows(self, view: SessionView) -> list[tuple[Msg, str]]:
        """A utility bill's total due and what is left of it once the money inside is paid (or paid over it)."""
        if view.debt is None:
            return []
        left = view.debt.total - view.credited
        rest = (Msg("Debt left"), self.ctx.money(left)) if left >= 0 else (Msg("Paid over the debt"),
                                                                            self.ctx.money(-left))
        return [(Msg("Total due"), self.ctx.money(view.debt.total)), rest]

    def _figures_fit(self, view: SessionView, painter: Painter, width: int) -> bool:
        """Whether the figures' labels and amounts fit beside each other in width, at the smallest text."""
        font, bold = painter.font(painter.theme.sizes.minimum), painter.font(painter.theme.sizes.minimum, True)
        labels = [Msg(m) for m in ("Fee", "To be credited", "Minimum", "Maximum")]
        labels += [label for label, _ in self._debt_rows(view)]
        label = max(font.size(word)[0] for msg in labels for word in painter.resolve(msg).split())
        amounts = [self.ctx.money(v) for v in (view.fee, view.credited, view.max_amount)]
        value = max(bold.size(text)[0] for text in amounts + [text for _, text in self._debt_rows(view)])
        return label + value + painter.theme.spacing <= width

    def handle(self, action: str, view: SessionView) -> list[Any]:
        """Pay commits what is inside; Cancel works only while nothing is."""
        if action == PAY:
            return [ev.Pay()]
        return super().handle(action, view)
