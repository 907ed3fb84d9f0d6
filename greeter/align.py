"""Aligned face chips, pixel for pixel as dlib's ``get_face_chip`` makes them.

dlib's face descriptor was trained on chips cut by ``get_face_chip_details``
+ ``extract_image_chips`` (dlib/image_transforms/interpolation.h); the
encoder sees the same here:

1. A least-squares similarity transform (Umeyama, dlib's
   ``find_similarity_transform``) from dlib's mean face template to 33 of
   the 68 landmarks: eyes, nose and upper lip; jaw, eyebrows and lower lip
   are left out, as dlib does. Or, for the 5 landmarks of dlib's 5-point
   predictor (face_recognition's default), from dlib's 5-point template.
2. The chip rectangle that transform gives (dlib's ``chip_details``), and its
   corners mapped to the chip's (``centered_drect`` width-1 conventions kept).
3. When the chip is much smaller than the face (the rectangle is more than
   twice the chip's size), dlib samples from an image pyramid, each level a
   5-tap [1 4 6 4 1] Gaussian blur and decimation (``pyramid_down<2>``);
   reproduced exactly, integer rounding and coordinate mapping included.
4. Bilinear sampling, black where the 2x2 neighbourhood leaves the image,
   values truncated to uint8 as dlib's ``assign_pixel`` does.
"""

from __future__ import annotations

import math

import numpy as np

from greeter.photos import as_bgr

# dlib's "average positions of face points 17-67" (interpolation.h).
MEAN_FACE_SHAPE_X = np.array([
    0.000213256, 0.0752622, 0.18113, 0.29077, 0.393397, 0.586856, 0.689483, 0.799124,
    0.904991, 0.98004, 0.490127, 0.490127, 0.490127, 0.490127, 0.36688, 0.426036,
    0.490127, 0.554217, 0.613373, 0.121737, 0.187122, 0.265825, 0.334606, 0.260918,
    0.182743, 0.645647, 0.714428, 0.793132, 0.858516, 0.79751, 0.719335, 0.254149,
    0.340985, 0.428858, 0.490127, 0.551395, 0.639268, 0.726104, 0.642159, 0.556721,
    0.490127, 0.423532, 0.338094, 0.290379, 0.428096, 0.490127, 0.552157, 0.689874,
    0.553364, 0.490127, 0.42689])
MEAN_FACE_SHAPE_Y = np.array([
    0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891,
    0.0187482, 0.038915, 0.106454, 0.203352, 0.307009, 0.409805, 0.515625, 0.587326,
    0.609345, 0.628106, 0.609345, 0.587326, 0.216423, 0.178758, 0.179852, 0.231733,
    0.245099, 0.244077, 0.231733, 0.179852, 0.178758, 0.216423, 0.244077, 0.245099,
    0.780233, 0.745405, 0.727388, 0.742578, 0.727388, 0.745405, 0.780233, 0.864805,
    0.902192, 0.909281, 0.902192, 0.864805, 0.784792, 0.778746, 0.785343, 0.778746,
    0.784792, 0.824182, 0.831803, 0.824182])

# The landmarks dlib fits the template to: 27..54 (nose, eyes, outer lips'
# upper half) and 60..64 (inner upper lip); not the jaw (0..16), the eyebrows
# (17..26) or the lower lip (55..59, 65..67).
ALIGN_POINTS = np.array([i for i in range(17, 68)
                         if not (17 <= i <= 26 or 55 <= i <= 59 or 65 <= i <= 67)])


def find_similarity_transform(from_points: np.ndarray, to_points: np.ndarray
                              ) -> tuple[np.ndarray, np.ndarray]:
    """(A, t) with ``to ~ A @ from + t``, A a scaled rotation: Umeyama's least
    squares, as dlib's ``find_similarity_transform`` (reflections excluded)."""
    from_points = np.asarray(from_points, np.float64)
    to_points = np.asarray(to_points, np.float64)
    mean_from, mean_to = from_points.mean(0), to_points.mean(0)
    d_from, d_to = from_points - mean_from, to_points - mean_to
    sigma_from = (d_from ** 2).sum(1).mean()
    cov = d_to.T @ d_from / len(from_points)
    u, d, vt = np.linalg.svd(cov)
    s = np.ones(2)
    det = np.linalg.det(cov)
    if det < 0 or (det == 0 and np.linalg.det(u) * np.linalg.det(vt) < 0):
        s[1 if d[1] < d[0] else 0] = -1
    rotation = u @ np.diag(s) @ vt
    c = (d * s).sum() / sigma_from if sigma_from != 0 else 1.0
    return c * rotation, mean_to - c * rotation @ mean_from


# dlib's template for its 5-point predictor (get_face_chip_details): the outer
# and inner corner of the eye on the image's left, those of the other eye, and
# the bottom of the nose. A different face placement from the 68-point one.
FIVE_POINT_TEMPLATE = np.array([
    [0.8595674595992, 0.2134981538014], [0.6460604764104, 0.2289674387677],
    [0.1205750620789, 0.2137274526848], [0.3340850613712, 0.2290642403242],
    [0.4901123135679, 0.6277975316475]])


def _template_and_points(landmarks: np.ndarray, size: int, padding: float
                         ) -> tuple[np.ndarray, np.ndarray]:
    """The chip-pixel template and the face's matching landmarks, for 68 or 5 points."""
    points = np.asarray(landmarks, np.float64).reshape(-1, 2)
    if len(points) == 5:
        template = FIVE_POINT_TEMPLATE
    elif len(points) == 68:
        template = np.stack([MEAN_FACE_SHAPE_X[ALIGN_POINTS - 17],
                             MEAN_FACE_SHAPE_Y[ALIGN_POINTS - 17]], 1)
        points = points[ALIGN_POINTS]
    else:
        raise ValueError(f"{len(points)} landmarks; dlib's chips come from 68 or 5")
    return (padding + template) / (2 * padding + 1) * size, points


def landmark_frame(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(A, t): the similarity transform taking dlib's template for these 68 or 5
    landmarks, in units of the face (0..1, no padding), onto them."""
    return find_similarity_transform(*_template_and_points(landmarks, 1, 0.0))


def face_chip_details(landmarks: np.ndarray, size: int = 150, padding: float = 0.25
                      ) -> tuple[np.ndarray, float, float]:
    """dlib's ``get_face_chip_details`` for one face's 68 or 5 landmarks: the chip
    rectangle's centre (x, y) in image pixels, its width (= height) and its angle
    (radians)."""
    a, t = find_similarity_transform(*_template_and_points(landmarks, size, padding))
    p = a @ np.array([1.0, 0.0])
    angle = math.atan2(p[1], p[0])
    scale = math.hypot(p[0], p[1])
    centre = a @ np.array([size / 2.0, size / 2.0]) + t
    return centre, size * scale, angle


def _rect_corners(left, top, right, bottom, angle):
    """tl, tr, bl, br of a rectangle rotated by ``angle`` about its centre (dlib's rotate_point)."""
    cx, cy = (left + right) / 2.0, (top + bottom) / 2.0
    ca, sa = math.cos(angle), math.sin(angle)
    corners = np.array([[left, top], [right, top], [left, bottom], [right, bottom]], np.float64)
    dx, dy = corners[:, 0] - cx, corners[:, 1] - cy
    return np.stack([ca * dx - sa * dy + cx, sa * dx + ca * dy + cy], 1)


def _chip_affine(corners: np.ndarray, size: int) -> np.ndarray:
    """The 2x3 map chip (x, y, 1) -> source taking the chip's tl, tr, bl to corners[:3]."""
    chip = np.array([[0, 0, 1], [size - 1, 0, 1], [0, size - 1, 1]], np.float64)
    return np.linalg.solve(chip, corners[:3]).T


def chip_to_image_transform(landmarks: np.ndarray, size: int = 150,
                            padding: float = 0.25) -> np.ndarray:
    """The 2x3 affine matrix taking chip pixels (x, y, 1) to image pixels.

    (``cv2.invertAffineTransform`` of it maps image points into the chip.)
    """
    centre, width, angle = face_chip_details(landmarks, size, padding)
    half = (width - 1) / 2.0
    corners = _rect_corners(centre[0] - half, centre[1] - half,
                            centre[0] + half, centre[1] + half, angle)
    return _chip_affine(corners, size)


def _pyramid_down(image: np.ndarray) -> np.ndarray:
    """dlib's ``pyramid_down<2>`` on a 3-channel uint8 image: [1 4 6 4 1]^2 / 256
    in integers, output pixel (r, c) centred on input (2r + 2, 2c + 2),
    rounded down; (rows - 3) // 2 x (cols - 3) // 2 pixels."""
    rows, cols = image.shape[:2]
    if rows <= 8 or cols <= 8:
        return np.zeros((0, 0, 3), np.uint8)
    n_c, n_r = (cols - 3) // 2, (rows - 3) // 2
    s = image.astype(np.uint16)
    end = 2 * n_c
    temp = (s[:, 0:end:2] + 4 * s[:, 1:end + 1:2] + 6 * s[:, 2:end + 2:2]
            + 4 * s[:, 3:end + 3:2] + s[:, 4:end + 4:2])
    end = 2 * n_r
    down = (temp[0:end:2] + 4 * temp[1:end + 1:2] + 6 * temp[2:end + 2:2]
            + 4 * temp[3:end + 3:2] + temp[4:end + 4:2]) // 256
    return down.astype(np.uint8)


def _rect_down(rect):
    """dlib's ``pyramid_down<2>::rect_down``: each corner p -> p/2 - (1.25, 0.75)."""
    left, top, right, bottom = rect
    return (left / 2 - 1.25, top / 2 - 0.75, right / 2 - 1.25, bottom / 2 - 0.75)


def _area(rect) -> float:
    left, top, right, bottom = rect
    if left > right or top > bottom:
        return 0.0
    return (right - left + 1) * (bottom - top + 1)


def _bilinear(source: np.ndarray, transform: np.ndarray, size: int) -> np.ndarray:
    """dlib's ``transform_image`` with ``interpolate_bilinear``: chip pixel (x, y)
    takes the source at ``transform @ (x, y, 1)``, black where the 2x2
    neighbourhood leaves the source; same arithmetic order, truncated to uint8."""
    rows, cols = source.shape[:2]
    if rows < 2 or cols < 2:
        return np.zeros((size, size, 3), np.uint8)
    grid = np.arange(size, dtype=np.float64)
    xs = (transform[0, 0] * grid[None, :] + transform[0, 1] * grid[:, None]
          + transform[0, 2]).ravel()
    ys = (transform[1, 0] * grid[None, :] + transform[1, 1] * grid[:, None]
          + transform[1, 2]).ravel()
    left, top = np.floor(xs), np.floor(ys)
    inside = (left >= 0) & (top >= 0) & (left + 1 < cols) & (top + 1 < rows)
    fx = (xs - left)[:, None]
    fy = (ys - top)[:, None]
    index = (np.clip(top, 0, rows - 2).astype(np.intp) * cols
             + np.clip(left, 0, cols - 2).astype(np.intp))
    flat = np.ascontiguousarray(source).reshape(-1, 3)
    # (1-fy)*((1-fx)*tl + fx*tr) + fy*((1-fx)*bl + fx*br) in doubles, in place.
    upper = flat[index] * (1 - fx)
    upper += flat[index + 1] * fx
    lower = flat[index + cols] * (1 - fx)
    lower += flat[index + cols + 1] * fx
    upper *= 1 - fy
    lower *= fy
    upper += lower
    chip = np.clip(upper, 0, 255, out=upper).astype(np.uint8)  # truncation, as assign_pixel
    chip[~inside] = 0
    return chip.reshape(size, size, 3)


def _extract_chip(image: np.ndarray, centre: np.ndarray, width: float, angle: float,
                  size: int) -> np.ndarray:
    """dlib's ``extract_image_chips`` for one chip of ``size`` x ``size``."""
    rows, cols = image.shape[:2]
    half = (width - 1) / 2.0  # centered_drect(p, w, h): w-- then +-w/2
    rect = (centre[0] - half, centre[1] - half, centre[0] + half, centre[1] + half)
    chip_area = size * size

    if angle == 0 and width == size:  # no rotation or scaling: a plain copy
        left, top = (_lround(v) for v in rect[:2])
        chip = np.zeros((size, size, 3), np.uint8)
        x0, y0 = max(left, 0), max(top, 0)
        x1, y1 = min(left + size, cols), min(top + size, rows)
        if x1 > x0 and y1 > y0:
            chip[y0 - top:y1 - top, x0 - left:x1 - left] = image[y0:y1, x0:x1]
        return chip

    # The region the pyramid is built on: the rotated rectangle, grown by 2
    # pixels per level (doubling) against border effects, within the image.
    grow = 2.0
    down = _rect_down(rect)
    while _area(down) > chip_area:
        down = _rect_down(down)
        grow = grow * 2 + 2
    corners = _rect_corners(*rect, angle)
    low, high = corners.min(0) - grow, corners.max(0) + grow
    box_l, box_t = max(low[0], 0.0), max(low[1], 0.0)
    box_r, box_b = min(high[0], cols - 1.0), min(high[1], rows - 1.0)
    if box_l > box_r or box_t > box_b:
        return np.zeros((size, size, 3), np.uint8)
    # drectangle -> rectangle rounds each side with lround (halves away from 0).
    box_l, box_t, box_r, box_b = (_lround(v) for v in (box_l, box_t, box_r, box_b))
    source = image[box_t:box_b + 1, box_l:box_r + 1]

    # The level to sample from: the last one where the rectangle is still more
    # than the chip's area after one more halving; -1 is the image itself.
    rect = (rect[0] - box_l, rect[1] - box_t, rect[2] - box_l, rect[3] - box_t)
    level = -1
    while _area(_rect_down(rect)) > chip_area:
        level += 1
        rect = _rect_down(rect)
    for _ in range(level + 1):
        source = _pyramid_down(np.ascontiguousarray(source))
    return _bilinear(source, _chip_affine(_rect_corners(*rect, angle), size), size)


def _lround(value: float) -> int:
    """C's lround: nearest integer, halves away from zero."""
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def aligned_face_chips(image_bgr: np.ndarray, landmarks: np.ndarray, size: int = 150,
                       padding: float = 0.25) -> np.ndarray:
    """(N, size, size, 3) uint8 RGB chips, one per face, as dlib's
    ``get_face_chip(rgb, shape, size, padding)`` cuts them.

    ``image_bgr`` is BGR (or greyscale, or BGRA) uint8; ``landmarks`` is
    (N, 68, 2) or (N, 5, 2) (x, y) image pixels in the order of dlib's 68-point
    or 5-point predictor.
    """
    points = np.asarray(landmarks, np.float64)
    chips = np.zeros((len(points), size, size, 3), np.uint8)
    if len(points) == 0:
        return chips
    points = points.reshape(len(points), -1, 2)
    bgr = as_bgr(image_bgr)  # every step is per channel: RGB only at the end
    for index, face in enumerate(points):
        centre, width, angle = face_chip_details(face, size, padding)
        chips[index] = _extract_chip(bgr, centre, width, angle, size)[..., ::-1]
    return chips
