// A LIFO that keeps its first N elements inline (no allocation) and spills
// to the heap beyond: the explicit stack of the topic tree's and retained
// store's matching, which walk client-controlled depth iteratively instead
// of recursing. Almost every match needs a handful of entries, so the hot
// path allocates nothing.
#pragma once

#include <array>
#include <cstddef>
#include <utility>
#include <vector>

namespace duplex {

template <class T, size_t N>
class InlineStack {
  public:
    bool empty() const { return size_ == 0; }
    void push(T value) {
        if (size_ < N) inline_[size_] = std::move(value);
        else spill_.push_back(std::move(value));
        ++size_;
    }
    T pop() {
        --size_;
        if (size_ < N) return std::move(inline_[size_]);
        T v = std::move(spill_.back());
        spill_.pop_back();
        return v;
    }

  private:
    std::array<T, N> inline_{};
    std::vector<T> spill_;
    size_t size_ = 0;
};

}  // namespace duplex
